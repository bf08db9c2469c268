# External (out-of-distribution) test sets: each read by the archive's readers, preprocessed the
# same way, and cleared of every image the training archive also holds. Only the fits read them,
# once each, after the epoch and the threshold are fixed on validation.

if EXT_PHANTOMS:

    rule make_external_phantom:
        output:
            ground_truth=f"{PHANTOM_EXTERNAL_DIR}/{{ext}}/ground_truth.csv",
            metadata=f"{PHANTOM_EXTERNAL_DIR}/{{ext}}/metadata.csv",
            images=directory(f"{PHANTOM_EXTERNAL_DIR}/{{ext}}/images"),
            masks=directory(f"{PHANTOM_EXTERNAL_DIR}/{{ext}}/masks"),
        log:
            f"{RESULTS}/logs/make_external_phantom/{{ext}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_external_phantom/{{ext}}.tsv"
        wildcard_constraints:
            ext="|".join(EXT_PHANTOMS),
        conda:
            f"{ENVS}/data.yaml"
        threads: 2
        resources:
            mem_mb=2000,
            runtime=15,
        params:
            phantom=lambda w: EXTERNAL[w.ext]["phantom"],
        script:
            rule_script("make_phantom")


if EXTERNAL:

    rule ingest_external:
        input:
            unpack(external_raw("ground_truth", "metadata")),
        output:
            labels=f"{EXT}/labels.csv",
            rejects=f"{EXT}/label_rejects.csv",
        log:
            f"{RESULTS}/logs/ingest_external/{{ext}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/ingest_external/{{ext}}.tsv"
        conda:
            f"{ENVS}/data.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            data=lambda w: {
                "format": EXTERNAL[w.ext]["format"],
                "minority": DATA["minority"],
                "majority": DATA["majority"],
                "nevus_subtypes": EXTERNAL[w.ext]["nevus_subtypes"],
                # the study's inclusion rule (image type, manipulation) holds for every set
                "inclusion": data_params(DATA, "ingest")["inclusion"],
            },
        script:
            rule_script("ingest")

    rule preprocess_external:
        input:
            unpack(external_raw("images", "masks")),
            labels=f"{EXT}/labels.csv",
            label_rejects=f"{EXT}/label_rejects.csv",
        output:
            images=directory(f"{EXT}/images"),
            table=f"{EXT}/preprocessed.csv",
            rejects=f"{EXT}/rejects.csv",
        log:
            f"{RESULTS}/logs/preprocess_external/{{ext}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/preprocess_external/{{ext}}.tsv"
        conda:
            f"{ENVS}/data.yaml"
        threads: 8
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            # the archive's preprocessing, so an image in both ends up with the same pixels
            data=data_params(DATA, "preprocess"),
        script:
            rule_script("preprocess")

    rule external_set:
        input:
            unpack(external_raw("images")),
            table=f"{EXT}/preprocessed.csv",
            rejects=f"{EXT}/rejects.csv",
            archive=external_archives(),
            archive_hashes=external_archive_hashes(),
        output:
            metadata=f"{EXT}/metadata.csv",
            overlap=f"{EXT}/overlap.csv",
            summary=f"{EXT}/summary.json",
        log:
            f"{RESULTS}/logs/external_set/{{ext}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/external_set/{{ext}}.tsv"
        conda:
            f"{ENVS}/data.yaml"
        threads: 4
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            minority=DATA["minority"],
            majority=DATA["majority"],
        script:
            rule_script("external_set")
