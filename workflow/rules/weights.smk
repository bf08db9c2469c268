# Pretrained weights: fetched once, on a machine with internet, into weights.cache_dir.
# Only the files still missing from the cache are outputs: a file already there (fetched before,
# or put there by hand, perhaps in a cache the user shares with other work) is never an output,
# so no -F or --forcerun can delete it. With nothing missing, the rule checks the cache.


localrules:
    fetch_weights,


WEIGHTS_DIR = Path(config["weights"]["cache_dir"]) / "hub" / "checkpoints"
MISSING_WEIGHTS = [
    str(WEIGHTS_DIR / f.name) for f in weight_files() if not (WEIGHTS_DIR / f.name).exists()
]


rule fetch_weights:
    output:
        MISSING_WEIGHTS,
    log:
        f"{RESULTS}/logs/fetch_weights.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_weights.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        files=[f.__dict__ for f in weight_files()],
        # a function: the outputs (the missing files) may be none at all
        cache_dir=lambda w: config["weights"]["cache_dir"],
        mirror=config["weights"]["mirror"],
    script:
        rule_script("fetch_weights")
