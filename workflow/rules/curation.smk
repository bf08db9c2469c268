# Curation: raw synthetic -> blur -> SSIM -> LPIPS -> review -> cluster-balanced selection.
# Each stage scores the kept images of the stage before; the real images they compare with
# are the train-split minority images only.

CUR = config["curation"]
CUR_DIR = f"{RESULTS}/synthetic/curation"


rule curate_blur:
    input:
        raw=f"{RESULTS}/synthetic/raw",
    output:
        f"{CUR_DIR}/blur.csv",
    log:
        f"{RESULTS}/logs/curate_blur.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_blur.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        curation=curation_params(CUR, "blur"),
    script:
        rule_script("curate_blur")


rule curate_ssim:
    input:
        previous=f"{CUR_DIR}/blur.csv",
        raw=f"{RESULTS}/synthetic/raw",
        manifest=f"{RESULTS}/synthetic/raw_manifest.csv",
        metadata=f"{RESULTS}/data/metadata.csv",
    output:
        f"{CUR_DIR}/ssim.csv",
    log:
        f"{RESULTS}/logs/curate_ssim.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_ssim.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        curation=curation_params(CUR, "ssim"),
    script:
        rule_script("curate_ssim")


rule curate_lpips:
    input:
        previous=f"{CUR_DIR}/ssim.csv",
        weights=cached("curation.lpips_backbone"),
        raw=f"{RESULTS}/synthetic/raw",
        manifest=f"{RESULTS}/synthetic/raw_manifest.csv",
        metadata=f"{RESULTS}/data/metadata.csv",
    output:
        f"{CUR_DIR}/lpips.csv",
    log:
        f"{RESULTS}/logs/curate_lpips.log",
    benchmark:
        f"{RESULTS}/benchmarks/curate_lpips.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=12000,
        runtime=60,
    params:
        curation=curation_params(CUR, "lpips"),
        cache_dir=cache_dir_of,
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("curate_lpips")


rule review_sheet:
    input:
        previous=f"{CUR_DIR}/lpips.csv",
        raw=f"{RESULTS}/synthetic/raw",
    output:
        f"{RESULTS}/review/index.html",
    log:
        f"{RESULTS}/logs/review_sheet.log",
    benchmark:
        f"{RESULTS}/benchmarks/review_sheet.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        page_id=f"ganaug-{config['seed']}",
    script:
        rule_script("review_sheet")


rule ingest_reviews:
    input:
        previous=f"{CUR_DIR}/lpips.csv",
        blur=f"{CUR_DIR}/blur.csv",
        ssim=f"{CUR_DIR}/ssim.csv",
        reviews=review_files,
    output:
        f"{CUR_DIR}/review.csv",
    log:
        f"{RESULTS}/logs/ingest_reviews.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_reviews.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        curation=curation_params(CUR, "review"),
        seed=config["seed"],
    script:
        rule_script("ingest_reviews")


rule select_clusters:
    input:
        previous=f"{CUR_DIR}/review.csv",
        weights=cached("curation.cluster_backbone"),
        raw=f"{RESULTS}/synthetic/raw",
        metadata=f"{RESULTS}/data/metadata.csv",
        manifest=f"{RESULTS}/synthetic/raw_manifest.csv",
        blur=f"{CUR_DIR}/blur.csv",
        ssim=f"{CUR_DIR}/ssim.csv",
        lpips=f"{CUR_DIR}/lpips.csv",
        review=f"{CUR_DIR}/review.csv",
    output:
        curated=directory(f"{RESULTS}/synthetic/curated"),
        clusters=f"{CUR_DIR}/clusters.csv",
        tsne=report(
            f"{CUR_DIR}/tsne.png",
            caption="../report/tsne.rst",
            category="2. GAN",
            subcategory="curation",
        ),
        summary=f"{CUR_DIR}/summary.json",
        scores=report(
            f"{CUR_DIR}/scores.png",
            caption="../report/scores.rst",
            category="2. GAN",
            subcategory="curation",
        ),
    log:
        f"{RESULTS}/logs/select_clusters.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_clusters.tsv"
    conda:
        f"{ENVS}/curation.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        curation=curation_params(CUR, "clusters"),
        cache_dir=cache_dir_of,
        seed=config["seed"],
    script:
        rule_script("select_clusters")
