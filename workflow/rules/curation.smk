# Curation: raw synthetic -> blur -> SSIM -> LPIPS -> review -> cluster-balanced selection.
# Each stage scores the kept images of the stage before; the real images they compare with
# are the train-split minority images only. Every generator's raw set goes through the same
# rules: {sfx} is "" for the study's (synthetic/), "_<family>" for synthetic_<family>/; the
# review page (review_sheet) is one per repeat for all of them, keyed and ingested per generator.

CUR = config["curation"]
CUR_DIR = f"{SYN}/curation"


rule curate_blur:
    input:
        raw=f"{SYN}/raw",
        # the real train-split minority images set the threshold under curation.blur_percentile
        metadata=f"{REP}/data/metadata.csv",
    output:
        f"{CUR_DIR}/blur.csv",
    log:
        f"{RESULTS}/logs/curate_blur/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_blur/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        curation=lambda wc: curation_params(CUR, "blur", generator_of(wc.sfx)),
    script:
        rule_script("curate_blur")


rule curate_ssim:
    input:
        previous=f"{CUR_DIR}/blur.csv",
        raw=f"{SYN}/raw",
        manifest=f"{SYN}/raw_manifest.csv",
        metadata=f"{REP}/data/metadata.csv",
    output:
        f"{CUR_DIR}/ssim.csv",
    log:
        f"{RESULTS}/logs/curate_ssim/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_ssim/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        curation=lambda wc: curation_params(CUR, "ssim", generator_of(wc.sfx)),
    script:
        rule_script("curate_ssim")


rule curate_lpips:
    input:
        previous=f"{CUR_DIR}/ssim.csv",
        weights=cached("curation.lpips_backbone"),
        raw=f"{SYN}/raw",
        manifest=f"{SYN}/raw_manifest.csv",
        metadata=f"{REP}/data/metadata.csv",
    output:
        f"{CUR_DIR}/lpips.csv",
    log:
        f"{RESULTS}/logs/curate_lpips/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_lpips/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=12000,
        runtime=60,
    params:
        curation=lambda wc: curation_params(CUR, "lpips", generator_of(wc.sfx)),
        cache_dir=config["weights"]["cache_dir"],
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("curate_lpips")


# One review page per repeat for every generator: their LPIPS survivors mixed with
# curation.review.real_images real training images, every image under a blinded name. Each
# generator's part is keyed on its own (review_key: the key stays in its curation folder, never on
# the page) and its scores ingested on their own (ingest_reviews), so a change to one generator's
# curation rebuilds the shared page but reruns no other generator's review, selection or fits.
rule review_key:
    input:
        previous=f"{CUR_DIR}/lpips.csv",
        raw=f"{SYN}/raw",
        manifest=f"{SYN}/raw_manifest.csv",
        metadata=f"{REP}/data/metadata.csv",
    output:
        # which shown name is real or synthetic (this generator's), and its own name
        f"{CUR_DIR}/review_key.csv",
    log:
        f"{RESULTS}/logs/review_key/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/review_key/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        generator=lambda wc: generator_of(wc.sfx),
        # only the key this part depends on (the threshold or the mode reruns no key)
        review={"real_images": CUR["review"]["real_images"]},
        seed=config["seed"],
    script:
        rule_script("review_key")


rule review_sheet:
    input:
        unpack(review_parts),
        metadata=f"{REP}/data/metadata.csv",
    output:
        page=f"{REP}/review/index.html",
    log:
        f"{RESULTS}/logs/review_sheet/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/review_sheet/repeat_{{repeat}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        generators=[g.name for g in GENERATORS],
        # each repeat's page keeps its own progress in the reviewer's browser
        page_id=lambda w: f"ganaug-{config['seed']}-repeat{w.repeat}",
    script:
        rule_script("review_sheet")


rule ingest_reviews:
    input:
        previous=f"{CUR_DIR}/lpips.csv",
        blur=f"{CUR_DIR}/blur.csv",
        ssim=f"{CUR_DIR}/ssim.csv",
        key=f"{CUR_DIR}/review_key.csv",
        # the simulated review orders the real images as a page of this generator alone would
        metadata=f"{REP}/data/metadata.csv",
        reviews=review_files,
        # the page, while there are no exports yet: built before this rule says what to do
        page=page_until_reviewed,
    output:
        # its review table, and the visual Turing test of its images against the page's real ones
        # (can the reviewers tell them apart, do they agree?)
        table=f"{CUR_DIR}/review.csv",
        turing=f"{CUR_DIR}/review_turing.json",
    log:
        f"{RESULTS}/logs/ingest_reviews/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_reviews/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        generator=lambda wc: generator_of(wc.sfx),
        # the exports of this repeat's page are read from <review.dir>/repeat_<r>/
        curation=lambda w: {"review": {**CUR["review"], "dir": review_dir(w.repeat)}},
        seed=config["seed"],
    script:
        rule_script("ingest_reviews")


rule select_clusters:
    input:
        previous=f"{CUR_DIR}/review.csv",
        weights=cached("curation.cluster_backbone"),
        raw=f"{SYN}/raw",
        metadata=f"{REP}/data/metadata.csv",
        manifest=f"{SYN}/raw_manifest.csv",
        blur=f"{CUR_DIR}/blur.csv",
        ssim=f"{CUR_DIR}/ssim.csv",
        lpips=f"{CUR_DIR}/lpips.csv",
        review=f"{CUR_DIR}/review.csv",
    output:
        curated=directory(f"{SYN}/curated"),
        clusters=f"{CUR_DIR}/clusters.csv",
        tsne=report(
            f"{CUR_DIR}/tsne.png",
            caption="../report/tsne.rst",
            category="2. GAN",
            subcategory="curation{sfx}, repeat {repeat}",
        ),
        summary=f"{CUR_DIR}/summary.json",
        scores=report(
            f"{CUR_DIR}/scores.png",
            caption="../report/scores.rst",
            category="2. GAN",
            subcategory="curation{sfx}, repeat {repeat}",
        ),
    log:
        f"{RESULTS}/logs/select_clusters/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_clusters/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        curation=lambda wc: curation_params(CUR, "clusters", generator_of(wc.sfx)),
        cache_dir=config["weights"]["cache_dir"],
        seed=config["seed"],
    script:
        rule_script("select_clusters")


# the selection's controls: as many images, from the same review survivors, drawn at random or
# the best-scored (conditions with synthetic: curated_random / curated_best)
rule select_alternatives:
    input:
        review=f"{CUR_DIR}/review.csv",
        clusters=f"{CUR_DIR}/clusters.csv",
        raw=f"{SYN}/raw",
    output:
        random=directory(f"{SYN}/curated_random"),
        best=directory(f"{SYN}/curated_best"),
        table=f"{CUR_DIR}/selections.csv",
    log:
        f"{RESULTS}/logs/select_alternatives/repeat_{{repeat}}{{sfx}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_alternatives/repeat_{{repeat}}{{sfx}}.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        seed=config["seed"],
    script:
        rule_script("select_alternatives")
