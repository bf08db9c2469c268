# Data: the raw files (phantom, download or the user's own) -> labels -> 256 px PNGs -> splits.
# No rule here ever has a user-supplied path as its output (ganaug.data.sources explains why).


if DATA["phantom"] is not None:

    rule make_phantom:
        output:
            # (placed first by snakefmt) the extra DF images, when data.phantom.n_extra_minority
            **phantom_extra_output(),
            ground_truth=SOURCE.ground_truth,
            metadata=SOURCE.metadata,
            images=directory(SOURCE.images),
            masks=directory(SOURCE.masks),
        log:
            f"{RESULTS}/logs/make_phantom.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_phantom.tsv"
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


localrules:
    download_isic2019,


# Only the files still missing from the workflow's own download folder are outputs: once
# fetched they are protected and never an output again, so no -F can delete them. With nothing to
# fetch (the user's files are there, or another format) the rule has no output and only says so,
# so `snakemake download_isic2019` and --forcerun download_isic2019 are safe whatever the config.
rule download_isic2019:
    output:
        **{k: protected(directory(v) if k == "images" else v) for k, v in SOURCE.to_fetch.items()},
    log:
        f"{RESULTS}/logs/download_isic2019.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_isic2019.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=600,
    params:
        base_url=DATA["download_url"],
        sha256=DATA["download_sha256"],
        nothing_to_fetch=None if SOURCE.to_fetch else download_status(),
    script:
        rule_script("download_isic2019")


if DATA["archive_extra"] is not None:

    localrules:
        download_archive_extra,

    # the real_extra pool from the ISIC Archive, by its own client (needs internet: a local rule,
    # so on a cluster it runs on the login node). Like download_isic2019, the folder is an output
    # only while it is missing; once complete it is protected and never an output again.
    rule download_archive_extra:
        output:
            **archive_extra_output(),
        log:
            f"{RESULTS}/logs/download_archive_extra.log",
        benchmark:
            f"{RESULTS}/benchmarks/download_archive_extra.tsv"
        conda:
            f"{ENVS}/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=600,
        params:
            search=DATA["archive_extra"].get("search", ARCHIVE_DEFAULT_SEARCH),
            limit=DATA["archive_extra"].get("limit", 0),
            dest=ARCHIVE_EXTRA_DIR if archive_extra_output() else None,
            nothing_to_fetch=f"{ARCHIVE_EXTRA_DIR} is complete and protected (to fetch again: "
            f"chmod -R u+w {ARCHIVE_EXTRA_DIR} && rm -r {ARCHIVE_EXTRA_DIR})",
        script:
            rule_script("download_archive_extra")


rule ingest:
    input:
        unpack(raw_data("ground_truth", "metadata")),
    output:
        labels=f"{RESULTS}/data/labels.csv",
        rejects=f"{RESULTS}/data/label_rejects.csv",
    log:
        f"{RESULTS}/logs/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        data=data_params(DATA, "ingest"),
    script:
        rule_script("ingest")


rule preprocess:
    input:
        unpack(raw_data("images", "masks")),
        labels=f"{RESULTS}/data/labels.csv",
        label_rejects=f"{RESULTS}/data/label_rejects.csv",
    output:
        images=directory(f"{RESULTS}/data/images"),
        table=f"{RESULTS}/data/preprocessed.csv",
        rejects=f"{RESULTS}/data/rejects.csv",
    log:
        f"{RESULTS}/logs/preprocess.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 8
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        data=data_params(DATA, "preprocess"),
    script:
        rule_script("preprocess")


# the perceptual hashes of the archive's raw images, which the external sets and the extra pool
# are screened against for near-duplicates (ganaug.data.near_duplicates)
rule perceptual_hashes:
    input:
        unpack(raw_data("images")),
        table=f"{RESULTS}/data/preprocessed.csv",
    output:
        hashes=f"{RESULTS}/data/hashes.npz",
    log:
        f"{RESULTS}/logs/perceptual_hashes.log",
    benchmark:
        f"{RESULTS}/benchmarks/perceptual_hashes.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 8
    resources:
        mem_mb=2000,
        runtime=120,
    script:
        rule_script("perceptual_hashes")


# the same lesion under two lesion ids in the archive: the archive screened against itself by the
# perceptual hash, and the published and the user's lists; every split joins these pairs
rule same_lesion:
    input:
        unpack(same_lesion_inputs),
    output:
        pairs=f"{RESULTS}/data/same_lesion.csv",
    log:
        f"{RESULTS}/logs/same_lesion.log",
    benchmark:
        f"{RESULTS}/benchmarks/same_lesion.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        published=DATA["same_lesion"]["published"],
    script:
        rule_script("same_lesion")


# one lesion-grouped split per repeat, over the same preprocessed images
rule split:
    input:
        table=f"{RESULTS}/data/preprocessed.csv",
        rejects=f"{RESULTS}/data/rejects.csv",
        same_lesion=f"{RESULTS}/data/same_lesion.csv",
    output:
        metadata=f"{REP}/data/metadata.csv",
        summary=f"{REP}/data/summary.json",
    log:
        f"{RESULTS}/logs/split/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/split/repeat_{{repeat}}.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        data=data_params(DATA, "split"),
        split=lambda w: repeat_split(DATA, int(w.repeat)),
    script:
        rule_script("split")


# each split's real images decoded once, for every fit of the repeat (ganaug.data.image_cache)
rule decode_split:
    input:
        metadata=f"{REP}/data/metadata.csv",
    output:
        npy=f"{REP}/data/cache/{{split}}.npy",
        info=f"{REP}/data/cache/{{split}}.json",
    log:
        f"{RESULTS}/logs/decode_split/repeat_{{repeat}}_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/decode_split/repeat_{{repeat}}_{{split}}.tsv"
    wildcard_constraints:
        split="train|val|test",
    conda:
        f"{ENVS}/classify.yaml"
    threads: 4
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        image_size=DATA["image_size"],
    script:
        rule_script("decode_split")


if EXTRA is not None:

    # the real_extra control's pool: extra real minority images of lesions in no split,
    # preprocessed like the archive, less any image the archive holds
    rule extra_minority:
        input:
            images=EXTRA,
            archive=f"{RESULTS}/data/preprocessed.csv",
            archive_hashes=f"{RESULTS}/data/hashes.npz",
        output:
            images=directory(f"{RESULTS}/data/extra/images"),
            metadata=f"{RESULTS}/data/extra/metadata.csv",
            overlap=f"{RESULTS}/data/extra/overlap.csv",
            rejects=f"{RESULTS}/data/extra/rejects.csv",
            hashes=f"{RESULTS}/data/extra/hashes.npz",
        log:
            f"{RESULTS}/logs/extra_minority.log",
        benchmark:
            f"{RESULTS}/benchmarks/extra_minority.tsv"
        conda:
            f"{ENVS}/data.yaml"
        threads: 2
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            data=data_params(DATA, "preprocess"),
            minority=DATA["minority"],
            # the inclusion rule, where the pool is an isic-cli export with its metadata
            inclusion=data_params(DATA, "ingest")["inclusion"],
        script:
            rule_script("extra_minority")


# the licence and attribution of every real image any output uses (archive, external, extra)
rule attribution:
    input:
        unpack(attribution_inputs),
    output:
        f"{RESULTS}/data/attribution.csv",
    log:
        f"{RESULTS}/logs/attribution.log",
    benchmark:
        f"{RESULTS}/benchmarks/attribution.tsv"
    conda:
        f"{ENVS}/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        archive_format="phantom" if DATA["phantom"] is not None else DATA["format"],
        external_formats={
            n: "phantom" if s["phantom"] is not None else s["format"] for n, s in EXTERNAL.items()
        },
        extra_source=EXTRA,
        # the phantom's extra images are its own drawings; an isic-cli pool has its metadata
        extra_format="phantom" if DATA["phantom"] is not None else None,
    script:
        rule_script("attribution")
