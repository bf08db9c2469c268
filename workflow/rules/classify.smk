# Classifiers: {repeat} x {arch} x {condition} x {seed}, then every replicate (repeat, seed)
# aggregated per (arch, condition).


wildcard_constraints:
    arch=arch_pattern(CLS["archs"]),
    condition="|".join(CLS["conditions"]),
    seed=r"\d+",


rule fit_classifier:
    input:
        unpack(classifier_inputs),
    output:
        # (placed first by snakefmt) each external test set's predictions, made once at the
        # validation-tuned threshold
        **external_fit_outputs(),
        model=f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/model.pt",
        history=f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/history.csv",
        predictions=f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/predictions.csv",
        metrics=f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/metrics.json",
        curves=report(
            f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/training_curves.png",
            caption="../report/classifier_curves.rst",
            category="3. Classifiers",
            subcategory="{arch} / {condition}",
            labels={"figure": "classifier curves", "repeat": "{repeat}", "seed": "{seed}"},
        ),
        confusion=report(
            f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/confusion_matrix.png",
            caption="../report/confusion.rst",
            category="3. Classifiers",
            subcategory="{arch} / {condition}",
            labels={"figure": "confusion", "repeat": "{repeat}", "seed": "{seed}"},
        ),
        pr_curve=report(
            f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}/pr_curve.png",
            caption="../report/pr_curve.rst",
            category="3. Classifiers",
            subcategory="{arch} / {condition}",
            labels={"figure": "pr curve", "repeat": "{repeat}", "seed": "{seed}"},
        ),
    log:
        f"{RESULTS}/logs/fit_classifier/repeat_{{repeat}}/{{arch}}_{{condition}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fit_classifier/repeat_{{repeat}}/{{arch}}_{{condition}}_seed{{seed}}.tsv"
    conda:
        f"{ENVS}/classify.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        # what this fit depends on (training keys, its weights, its condition), so adding a seed
        # or an architecture reruns no existing fit
        fit=lambda w: fit_params(CLS, w.arch, w.condition),
        cache_dir=config["weights"]["cache_dir"],
        image_size=DATA["image_size"],
        device=config["device"],
        tensorboard=lambda w: f"{RESULTS}/tensorboard/repeat_{w.repeat}/{w.arch}/{w.condition}/seed_{w.seed}",
    script:
        rule_script("fit_classifier")


# every replicate: each repeat's split times each seed
rule aggregate_replicates:
    input:
        lambda w: fit_files("metrics.json", w.arch, w.condition),
    output:
        f"{RESULTS}/{{arch}}/{{condition}}/metrics.json",
    log:
        f"{RESULTS}/logs/aggregate_replicates/{{arch}}_{{condition}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate_replicates/{{arch}}_{{condition}}.tsv"
    conda:
        f"{ENVS}/classify.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        rule_script("aggregate_replicates")
