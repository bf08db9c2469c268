# WGAN-GP: train on the train-split minority images, then sample the raw synthetic set.


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
        gan=GAN.training_params(),
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
        gan=GAN.sampling_params(),
        device=config["device"],
    script:
        rule_script("sample_gan")
