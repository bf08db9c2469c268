# WGAN-GP: train on the train-split minority images, then sample the raw synthetic set.


rule train_gan:
    input:
        metadata=f"{RESULTS}/data/metadata.csv",
    output:
        generator=f"{RESULTS}/gan/generator.pt",
        history=f"{RESULTS}/gan/history.csv",
        curves=report(
            f"{RESULTS}/gan/training_curves.png",
            caption="../report/gan_curves.rst",
            category="2. GAN",
        ),
        grid=report(
            f"{RESULTS}/gan/samples_grid.png",
            caption="../report/samples_grid.rst",
            category="2. GAN",
        ),
        progress=f"{RESULTS}/gan/progress_grids.png",
    log:
        f"{RESULTS}/logs/train_gan.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_gan.tsv"
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
        checkpoint=f"{RESULTS}/gan/checkpoints/last.pt",
        samples_dir=f"{RESULTS}/gan/grids",
        tensorboard=f"{RESULTS}/gan/tensorboard",
    script:
        rule_script("train_gan")


rule sample_gan:
    input:
        generator=f"{RESULTS}/gan/generator.pt",
    output:
        images=directory(f"{RESULTS}/synthetic/raw"),
        manifest=f"{RESULTS}/synthetic/raw_manifest.csv",
    log:
        f"{RESULTS}/logs/sample_gan.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_gan.tsv"
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
