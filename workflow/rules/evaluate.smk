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
