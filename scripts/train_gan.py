"""Rule train_gan: WGAN-GP on the train-split minority images; resumes from its checkpoint."""

from pathlib import Path

import torch

from ganaug.data.provenance import load_train_minority
from ganaug.runtime import select_device, setup_logging
from ganaug.training.gan import GanConfig, GanOutputs, train_gan

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = GanConfig.from_dict(snakemake.params.gan)
out = GanOutputs(
    checkpoint=Path(snakemake.params.checkpoint),
    generator=Path(snakemake.output.generator),
    history=Path(snakemake.output.history),
    curves=Path(snakemake.output.curves),
    grid=Path(snakemake.output.grid),
    samples_dir=Path(snakemake.params.samples_dir),
    tensorboard=Path(snakemake.params.tensorboard),
)
train_gan(
    cfg,
    load_train_minority(snakemake.input.metadata, cfg.img_size),
    out,
    select_device(snakemake.params.device),
)
