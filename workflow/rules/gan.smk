# The study's generator: train on the train-split minority images, then sample the raw synthetic
# set, in its historical folders (gan/, synthetic/).


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
        settings=GAN.training_params(),
        device=config["device"],
        # not outputs: they must survive a failed or preempted job, which is how it resumes
        checkpoint=lambda w: f"{rep(w.repeat)}/gan/checkpoints/last.pt",
        samples_dir=lambda w: f"{rep(w.repeat)}/gan/grids",
        tensorboard=lambda w: f"{rep(w.repeat)}/gan/tensorboard",
    script:
        rule_script("train_gan")


rule sample_gan:
    input:
        generator=f"{REP}/gan/generator.pt",
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
    log:
        f"{RESULTS}/logs/train_generator/repeat_{{repeat}}_{{gdir}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_generator/repeat_{{repeat}}_{{gdir}}.tsv"
    params:
        settings=lambda w: by_directory(w.gdir).settings(config).training_params(),
        device=config["device"],
        checkpoint=lambda w: f"{rep(w.repeat)}/{w.gdir}/checkpoints/last.pt",
        samples_dir=lambda w: f"{rep(w.repeat)}/{w.gdir}/grids",
        tensorboard=lambda w: f"{rep(w.repeat)}/{w.gdir}/tensorboard",


use rule sample_gan as sample_generator with:
    input:
        generator=f"{REP}/{{gdir}}/generator.pt",
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
