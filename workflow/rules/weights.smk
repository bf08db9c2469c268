# Pretrained weights: fetched once, on a machine with internet, into weights.cache_dir.


localrules:
    fetch_weights,


rule fetch_weights:
    output:
        [
            str(Path(config["weights"]["cache_dir"]) / "hub" / "checkpoints" / f.name)
            for f in weight_files()
        ],
    log:
        f"{RESULTS}/logs/fetch_weights.log",
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        files=[f.__dict__ for f in weight_files()],
        cache_dir=lambda w, output: str(Path(output[0]).parents[2]),
        mirror=config["weights"]["mirror"],
    script:
        rule_script("fetch_weights")
