# Evaluation across fits: significance against the baseline, and the ablation table.

EVAL = config["evaluation"]
STATS_TABLES = {
    name: f"{RESULTS}/stats/{name}.csv"
    for name in ("differences", "mcnemar", "wilcoxon", "intervals")
}


rule significance:
    input:
        metadata=f"{RESULTS}/data/metadata.csv",
        predictions=expand(
            f"{RESULTS}/{{arch}}/{{condition}}/seed_{{seed}}/predictions.csv",
            arch=CLS["archs"],
            condition=CLS["conditions"],
            seed=CLS["seeds"],
        ),
        metrics=expand(
            f"{RESULTS}/{{arch}}/{{condition}}/seed_{{seed}}/metrics.json",
            arch=CLS["archs"],
            condition=CLS["conditions"],
            seed=CLS["seeds"],
        ),
    output:
        **STATS_TABLES,
        forest=report(
            f"{RESULTS}/stats/forest.png",
            caption="../report/forest.rst",
            category="4. Results",
        ),
    log:
        f"{RESULTS}/logs/significance.log",
    benchmark:
        f"{RESULTS}/benchmarks/significance.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        evaluation=evaluation_params(EVAL, "significance"),
        minority=DATA["minority"],
        majority=DATA["majority"],
        seed=config["seed"],
    script:
        rule_script("significance")


rule ablation:
    input:
        aggregates=expand(
            f"{RESULTS}/{{arch}}/{{condition}}/metrics.json",
            arch=CLS["archs"],
            condition=CLS["conditions"],
        ),
    output:
        csv=f"{RESULTS}/ablation.csv",
        md=f"{RESULTS}/ablation.md",
        figure=report(
            f"{RESULTS}/ablation.png",
            caption="../report/ablation.rst",
            category="4. Results",
        ),
    log:
        f"{RESULTS}/logs/ablation.log",
    benchmark:
        f"{RESULTS}/benchmarks/ablation.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        evaluation=evaluation_params(EVAL, "ablation"),
    script:
        rule_script("ablation")


rule gan_metrics:
    input:
        metadata=f"{RESULTS}/data/metadata.csv",
        raw=f"{RESULTS}/synthetic/raw",
        manifest=f"{RESULTS}/synthetic/raw_manifest.csv",
        curated=f"{RESULTS}/synthetic/curated",
        weights=cached("evaluation.feature_extractor") + cached("curation.lpips_backbone"),
    output:
        metrics=f"{RESULTS}/gan/metrics.json",
        features=f"{RESULTS}/gan/features.npz",
        per_image=f"{RESULTS}/gan/per_image.csv",
        figure=report(
            f"{RESULTS}/gan/real_vs_synthetic.png",
            caption="../report/real_vs_synthetic.rst",
            category="2. GAN",
        ),
    log:
        f"{RESULTS}/logs/gan_metrics.log",
    benchmark:
        f"{RESULTS}/benchmarks/gan_metrics.tsv"
    conda:
        f"{ENVS}/evaluate.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=12000,
        runtime=60,
    params:
        evaluation=evaluation_params(EVAL, "gan_metrics"),
        lpips_backbone=config["curation"]["lpips_backbone"],
        cache_dir=cache_dir_of,
        image_size=DATA["image_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("gan_metrics")


rule final_results:
    input:
        unpack(significance_tables),
        data_summary=f"{RESULTS}/data/summary.json",
        curation_summary=f"{RESULTS}/synthetic/curation/summary.json",
        gan_metrics=f"{RESULTS}/gan/metrics.json",
        aggregates=expand(
            f"{RESULTS}/{{arch}}/{{condition}}/metrics.json",
            arch=CLS["archs"],
            condition=CLS["conditions"],
        ),
    output:
        f"{RESULTS}/final_results.json",
    log:
        f"{RESULTS}/logs/final_results.log",
    benchmark:
        f"{RESULTS}/benchmarks/final_results.tsv"
    conda:
        f"{ENVS}/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        provenance={
            "data_format": DATA["format"],
            "phantom_demo_data": DATA["phantom"] is not None,
            "image_size": DATA["image_size"],
            "minority": DATA["minority"],
            "majority": DATA["majority"],
            "classifier_weights": CLS["weights"],
            "lpips_backbone": config["curation"]["lpips_backbone"],
            "cluster_backbone": config["curation"]["cluster_backbone"],
            "seeds": CLS["seeds"],
            "device": config["device"],
        },
        evaluation=evaluation_params(EVAL, "final_results"),
    script:
        rule_script("final_results")


rule notebook:
    input:
        unpack(report_inputs),
        notebook=f"{NB_DIR}/{{name}}.ipynb",
    output:
        f"{RESULTS}/notebooks/{{name}}.ipynb",
    log:
        f"{RESULTS}/logs/notebook/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/notebook/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(NOTEBOOKS),
    conda:
        f"{ENVS}/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        results_dir=lambda w, input: str(Path(input.final).parent),
    script:
        rule_script("run_notebook")


rule report:
    input:
        unpack(report_inputs),
        notebook=f"{NB_DIR}/report.ipynb",
    output:
        notebook=f"{RESULTS}/notebooks/report.ipynb",
        html=f"{RESULTS}/report.html",
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        f"{ENVS}/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        results_dir=lambda w, input: str(Path(input.final).parent),
        title="GAN augmentation for dermatofibroma: results",
    script:
        rule_script("render_report")
