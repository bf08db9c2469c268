# Evaluation across fits: significance against the baseline, and the ablation table.

EVAL = config["evaluation"]


rule significance:
    input:
        expand(
            f"{RESULTS}/{{arch}}/{{condition}}/seed_{{seed}}/{{file}}",
            arch=CLS["archs"],
            condition=CLS["conditions"],
            seed=CLS["seeds"],
            file=["predictions.csv", "metrics.json"],
        ),
    output:
        mcnemar=f"{RESULTS}/stats/mcnemar.csv",
        wilcoxon=f"{RESULTS}/stats/wilcoxon.csv",
        bootstrap=f"{RESULTS}/stats/bootstrap.csv",
    log:
        f"{RESULTS}/logs/significance.log",
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=lambda w, input: str(Path(input[0]).parents[3]),
        archs=CLS["archs"],
        conditions=list(CLS["conditions"]),
        seeds=CLS["seeds"],
        resamples=EVAL["bootstrap_resamples"],
        seed=config["seed"],
    script:
        rule_script("significance")


rule ablation:
    input:
        expand(
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
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        expected_f1=EVAL["study_expected_f1"],
    script:
        rule_script("ablation")


rule gan_metrics:
    input:
        metadata=f"{RESULTS}/data/metadata.csv",
        raw=f"{RESULTS}/synthetic/raw",
        curated=f"{RESULTS}/synthetic/curated",
        weights=cached("evaluation.feature_extractor") + cached("curation.lpips_backbone"),
    output:
        metrics=f"{RESULTS}/gan/metrics.json",
        figure=report(
            f"{RESULTS}/gan/real_vs_synthetic.png",
            caption="../report/real_vs_synthetic.rst",
            category="2. GAN",
        ),
    log:
        f"{RESULTS}/logs/gan_metrics.log",
    conda:
        f"{ENVS}/evaluate.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=12000,
        runtime=60,
    params:
        extractor=EVAL["feature_extractor"],
        lpips_backbone=config["curation"]["lpips_backbone"],
        cache_dir=cache_dir_of,
        image_size=DATA["image_size"],
        settings={
            k: EVAL[k]
            for k in (
                "batch_size",
                "is_splits",
                "kid_subsets",
                "kid_subset_size",
                "pr_k",
                "lpips_diversity_images",
            )
        },
        n_show=EVAL["real_vs_synthetic"],
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("gan_metrics")
