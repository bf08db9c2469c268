# Data: the raw files (phantom, download or the user's own) -> labels -> 256 px PNGs -> splits.


if DATA["phantom"] is not None:

    rule make_phantom:
        output:
            ground_truth=DATA["ground_truth"],
            metadata=DATA["metadata"],
            images=directory(DATA["images"]),
            masks=directory(DATA["masks"]) if DATA["masks"] else [],
        log:
            f"{RESULTS}/logs/make_phantom.log",
        conda:
            f"{ENVS}/data.yaml"
        threads: 2
        resources:
            mem_mb=2000,
            runtime=15,
        params:
            phantom=DATA["phantom"],
        script:
            rule_script("make_phantom")

elif DATA["download"]:

    localrules:
        download_isic2019,

    rule download_isic2019:
        output:
            ground_truth=DATA["ground_truth"],
            metadata=DATA["metadata"] if DATA["metadata"] else [],
            images=directory(DATA["images"]),
        log:
            f"{RESULTS}/logs/download_isic2019.log",
        conda:
            f"{ENVS}/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=600,
        params:
            base_url=DATA["download_url"],
            sha256=DATA["download_sha256"],
        script:
            rule_script("download_isic2019")


rule ingest:
    input:
        unpack(ingest_inputs),
    output:
        f"{RESULTS}/data/labels.csv",
    log:
        f"{RESULTS}/logs/ingest.log",
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        format=DATA["format"],
        minority=DATA["minority"],
        majority=DATA["majority"],
    script:
        rule_script("ingest")


rule preprocess:
    input:
        labels=f"{RESULTS}/data/labels.csv",
        images=DATA["images"],
        masks=DATA["masks"] if DATA["masks"] else [],
    output:
        images=directory(f"{RESULTS}/data/images"),
        table=f"{RESULTS}/data/preprocessed.csv",
        rejects=f"{RESULTS}/data/rejects.csv",
    log:
        f"{RESULTS}/logs/preprocess.log",
    conda:
        f"{ENVS}/data.yaml"
    threads: 8
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        image_size=DATA["image_size"],
        jpeg_draft=DATA["jpeg_draft"],
        max_reject_fraction=DATA["max_reject_fraction"],
    script:
        rule_script("preprocess")


rule split:
    input:
        table=f"{RESULTS}/data/preprocessed.csv",
        rejects=f"{RESULTS}/data/rejects.csv",
    output:
        metadata=f"{RESULTS}/data/metadata.csv",
        summary=f"{RESULTS}/data/summary.json",
    log:
        f"{RESULTS}/logs/split.log",
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        split=DATA["split"],
        minority=DATA["minority"],
        majority=DATA["majority"],
        source="phantom" if DATA["phantom"] is not None else DATA["format"],
    script:
        rule_script("split")
