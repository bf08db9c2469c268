# Evaluation across fits: significance against the baseline, and the ablation table.

EVAL = config["evaluation"]
STATS_TABLES = {
    name: f"{RESULTS}/stats/{name}.csv"
    for name in ("differences", "replicates", "mcnemar", "wilcoxon", "intervals")
}
DESIGN_TABLE = f"{RESULTS}/stats/design.csv"


rule significance:
    input:
        # each external set: its metadata.csv and every fit's predictions of it
        **external_significance_inputs(),
        # each repeat's split: the lesion groups of its test set
        metadata=per_repeat("data/metadata.csv"),
        # the archive's same-lesion pairs: one lesion in the bootstrap, as in the split
        same_lesion=f"{RESULTS}/data/same_lesion.csv",
        predictions=fit_files("predictions.csv"),
        metrics=fit_files("metrics.json"),
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
        # the corrected t's n_test / n_train
        split={k: DATA["split"][k] for k in ("train", "val", "test")},
        repeats=REPEATS,
        minority=DATA["minority"],
        majority=DATA["majority"],
        seed=config["seed"],
    script:
        rule_script("significance")


rule plan_cost:
    output:
        f"{RESULTS}/plan/cost.json",
    log:
        f"{RESULTS}/logs/plan_cost.log",
    benchmark:
        f"{RESULTS}/benchmarks/plan_cost.tsv"
    conda:
        f"{ENVS}/classify.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        # the whole study: the cost of every stage follows from it (counted on torch's meta
        # device, so nothing is computed and no GPU is needed)
        study={**config, "classifier": CLS},
    script:
        rule_script("plan_cost")


rule design:
    input:
        differences=STATS_TABLES["differences"],
        replicates=STATS_TABLES["replicates"],
        cost=rules.plan_cost.output[0],
    output:
        DESIGN_TABLE,
    log:
        f"{RESULTS}/logs/design.log",
    benchmark:
        f"{RESULTS}/benchmarks/design.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        evaluation=evaluation_params(EVAL, "design"),
        split={k: DATA["split"][k] for k in ("train", "val", "test")},
    script:
        rule_script("design")


# before a long run, the plan alone: `snakemake results/plan/plan.md` reads no data
rule plan:
    input:
        cost=rules.plan_cost.output[0],
    output:
        f"{RESULTS}/plan/plan.md",
    log:
        f"{RESULTS}/logs/plan.log",
    conda:
        f"{ENVS}/stats.yaml"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        evaluation=evaluation_params(EVAL, "design"),
        archs=CLS["archs"],
        test_sets=["in_distribution", *EVAL["external"]],
    script:
        rule_script("plan")


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


# one repeat's GAN against that repeat's held-out real images
rule gan_metrics:
    input:
        metadata=f"{REP}/data/metadata.csv",
        raw=f"{REP}/synthetic/raw",
        manifest=f"{REP}/synthetic/raw_manifest.csv",
        curated=f"{REP}/synthetic/curated",
        weights=cached("evaluation.feature_extractor")
        + cached("evaluation.dinov2")
        + cached("curation.lpips_backbone"),
    output:
        metrics=f"{REP}/gan/metrics.json",
        features=f"{REP}/gan/features.npz",
        per_image=f"{REP}/gan/per_image.csv",
        figure=report(
            f"{REP}/gan/real_vs_synthetic.png",
            caption="../report/real_vs_synthetic.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
        closest=report(
            f"{REP}/gan/closest_to_train.png",
            caption="../report/closest_to_train.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
        gallery=report(
            f"{REP}/gan/nearest_gallery.png",
            caption="../report/nearest_gallery.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
    log:
        f"{RESULTS}/logs/gan_metrics/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gan_metrics/repeat_{{repeat}}.tsv"
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
        cache_dir=config["weights"]["cache_dir"],
        image_size=DATA["image_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("gan_metrics")


# the same metrics of every other generator a condition names, against the same references
use rule gan_metrics as generator_metrics with:
    input:
        metadata=f"{REP}/data/metadata.csv",
        raw=f"{REP}/synthetic_{{gdir}}/raw",
        manifest=f"{REP}/synthetic_{{gdir}}/raw_manifest.csv",
        curated=f"{REP}/synthetic_{{gdir}}/curated",
        weights=cached("evaluation.feature_extractor")
        + cached("evaluation.dinov2")
        + cached("curation.lpips_backbone"),
    output:
        metrics=f"{REP}/{{gdir}}/metrics.json",
        features=f"{REP}/{{gdir}}/features.npz",
        per_image=f"{REP}/{{gdir}}/per_image.csv",
        figure=report(
            f"{REP}/{{gdir}}/real_vs_synthetic.png",
            caption="../report/real_vs_synthetic.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
        closest=report(
            f"{REP}/{{gdir}}/closest_to_train.png",
            caption="../report/closest_to_train.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
        gallery=report(
            f"{REP}/{{gdir}}/nearest_gallery.png",
            caption="../report/nearest_gallery.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
    log:
        f"{RESULTS}/logs/generator_metrics/repeat_{{repeat}}_{{gdir}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generator_metrics/repeat_{{repeat}}_{{gdir}}.tsv"


rule final_results:
    input:
        unpack(significance_tables),
        unpack(generator_summary_inputs),
        data_summary=per_repeat("data/summary.json"),
        curation_summary=per_repeat("synthetic/curation/summary.json"),
        gan_metrics=per_repeat("gan/metrics.json"),
        review_turing=per_repeat("synthetic/curation/review_turing.json"),
        external_summaries=[f"{RESULTS}/external/{n}/summary.json" for n in EXTERNAL],
        attribution=f"{RESULTS}/data/attribution.csv",
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
            "repeats": REPEATS,
            "device": config["device"],
            # conditions of the table that were not run, and why (e.g. real_extra without images)
            "skipped_conditions": SKIPPED,
        },
        evaluation=evaluation_params(EVAL, "final_results"),
        generators=generator_summary_params(),
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
