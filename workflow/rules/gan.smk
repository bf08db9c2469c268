# The study's generator: train on the train-split minority images, then sample the raw synthetic
# set, in its historical folders (gan/, synthetic/).

# the feature extractor's weights, which scoring the snapshots reads (none to sample the last)
SNAPSHOT_WEIGHTS = (
    cached("evaluation.feature_extractor") if SNAPSHOTS["select"] == "kid_val" else []
)
# each generator's length, what set it and its projected GPU time, for the report; the length
# itself reaches a training rule as its param (training_settings), so a budget that changes a
# family's length retrains that family only
BUDGET_JSON = f"{RESULTS}/plan/generator_budget.json"


rule generator_budget:
    output:
        BUDGET_JSON,
    log:
        f"{RESULTS}/logs/generator_budget.log",
    conda:
        f"{ENVS}/gan.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        # what the lengths follow from: the budget and what each generator's training depends on
        budget=config["budget"],
        training={g.name: g.settings(config).training_params() for g in GENERATORS},
    script:
        rule_script("generator_budget")


rule train_gan:
    input:
        metadata=f"{REP}/data/metadata.csv",
    output:
        generator=f"{REP}/gan/generator.pt",
        history=f"{REP}/gan/history.csv",
        curves=report(
            f"{REP}/gan/training_curves.png",
            caption="../report/gan_curves.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
        grid=report(
            f"{REP}/gan/samples_grid.png",
            caption="../report/samples_grid.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
        progress=f"{REP}/gan/progress_grids.png",
        snapshots=f"{REP}/gan/snapshots.csv",
    log:
        f"{RESULTS}/logs/train_gan/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_gan/repeat_{{repeat}}.tsv"
    conda:
        f"{ENVS}/gan.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=180,
    params:
        # what training depends on (the sampling keys are sample_gan's)
        settings=training_settings(STUDY).training_params(),
        device=config["device"],
        snapshot_count=SNAPSHOTS["count"],
        # not outputs: they must survive a failed or preempted job, which is how it resumes
        checkpoint=lambda w: f"{rep(w.repeat)}/gan/checkpoints/last.pt",
        samples_dir=lambda w: f"{rep(w.repeat)}/gan/grids",
        tensorboard=lambda w: f"{rep(w.repeat)}/gan/tensorboard",
        snapshots_dir=lambda w: f"{rep(w.repeat)}/gan/snapshots",
    script:
        rule_script("train_gan")


# Which of the generator's snapshots to sample (snapshots.select): the lowest KID against the
# val-split DF images, or the last (ganaug.generators.snapshots).
rule select_snapshot:
    input:
        snapshots=f"{REP}/gan/snapshots.csv",
        metadata=f"{REP}/data/metadata.csv",
        weights=SNAPSHOT_WEIGHTS,
    output:
        generator=f"{REP}/gan/selected_generator.pt",
        record=f"{REP}/gan/snapshot.json",
        figure=report(
            f"{REP}/gan/snapshot_kid.png",
            caption="../report/snapshot_kid.rst",
            category="2. GAN",
            subcategory="repeat {repeat}",
        ),
    log:
        f"{RESULTS}/logs/select_snapshot/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_snapshot/repeat_{{repeat}}.tsv"
    conda:
        f"{ENVS}/evaluate.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=60,
    params:
        method=SNAPSHOTS["select"],
        draws=SNAPSHOTS["draws"],
        sampling=GAN.sampling_params(),
        evaluation=SNAPSHOT_EVAL,
        cache_dir=config["weights"]["cache_dir"],
        seed=config["seed"],
        device=config["device"],
    script:
        rule_script("select_snapshot")


rule sample_gan:
    input:
        generator=f"{REP}/gan/selected_generator.pt",
        snapshot=f"{REP}/gan/snapshot.json",
    output:
        images=directory(f"{REP}/synthetic/raw"),
        manifest=f"{REP}/synthetic/raw_manifest.csv",
    log:
        f"{RESULTS}/logs/sample_gan/repeat_{{repeat}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_gan/repeat_{{repeat}}.tsv"
    conda:
        f"{ENVS}/gan.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        settings=GAN.sampling_params(),
        device=config["device"],
    script:
        rule_script("sample_gan")


# Every other registered generator a condition names (generator: <family>): the same two rules on
# its own folders, results/repeat_<r>/<gdir>/ and synthetic_<gdir>/, with its own section's
# settings. The scripts pick the family by {gdir} (ganaug.generators).
use rule train_gan as train_generator with:
    output:
        generator=f"{REP}/{{gdir}}/generator.pt",
        history=f"{REP}/{{gdir}}/history.csv",
        curves=report(
            f"{REP}/{{gdir}}/training_curves.png",
            caption="../report/gan_curves.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
        grid=report(
            f"{REP}/{{gdir}}/samples_grid.png",
            caption="../report/samples_grid.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
        progress=f"{REP}/{{gdir}}/progress_grids.png",
        snapshots=f"{REP}/{{gdir}}/snapshots.csv",
    log:
        f"{RESULTS}/logs/train_generator/repeat_{{repeat}}_{{gdir}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_generator/repeat_{{repeat}}_{{gdir}}.tsv"
    params:
        settings=lambda w: training_settings(by_directory(w.gdir)).training_params(),
        device=config["device"],
        snapshot_count=SNAPSHOTS["count"],
        checkpoint=lambda w: f"{rep(w.repeat)}/{w.gdir}/checkpoints/last.pt",
        samples_dir=lambda w: f"{rep(w.repeat)}/{w.gdir}/grids",
        tensorboard=lambda w: f"{rep(w.repeat)}/{w.gdir}/tensorboard",
        snapshots_dir=lambda w: f"{rep(w.repeat)}/{w.gdir}/snapshots",


use rule select_snapshot as select_generator_snapshot with:
    input:
        snapshots=f"{REP}/{{gdir}}/snapshots.csv",
        metadata=f"{REP}/data/metadata.csv",
        weights=SNAPSHOT_WEIGHTS,
    output:
        generator=f"{REP}/{{gdir}}/selected_generator.pt",
        record=f"{REP}/{{gdir}}/snapshot.json",
        figure=report(
            f"{REP}/{{gdir}}/snapshot_kid.png",
            caption="../report/snapshot_kid.rst",
            category="2. GAN",
            subcategory="{gdir}, repeat {repeat}",
        ),
    log:
        f"{RESULTS}/logs/select_snapshot/repeat_{{repeat}}_{{gdir}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_snapshot/repeat_{{repeat}}_{{gdir}}.tsv"
    params:
        method=SNAPSHOTS["select"],
        draws=SNAPSHOTS["draws"],
        sampling=lambda w: by_directory(w.gdir).settings(config).sampling_params(),
        evaluation=SNAPSHOT_EVAL,
        cache_dir=config["weights"]["cache_dir"],
        seed=config["seed"],
        device=config["device"],


use rule sample_gan as sample_generator with:
    input:
        generator=f"{REP}/{{gdir}}/selected_generator.pt",
        snapshot=f"{REP}/{{gdir}}/snapshot.json",
    output:
        images=directory(f"{REP}/synthetic_{{gdir}}/raw"),
        manifest=f"{REP}/synthetic_{{gdir}}/raw_manifest.csv",
    log:
        f"{RESULTS}/logs/sample_generator/repeat_{{repeat}}_{{gdir}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_generator/repeat_{{repeat}}_{{gdir}}.tsv"
    params:
        settings=lambda w: by_directory(w.gdir).settings(config).sampling_params(),
        device=config["device"],
