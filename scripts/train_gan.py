"""Rule train_gan: WGAN-GP on the train-split minority images; resumes from its checkpoint."""

from ganaug.runtime import configure_runtime, setup_logging
from ganaug.settings import GanConfig
from ganaug.training.gan import GanOutputs, train_from_metadata

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
o, p = snakemake.output, snakemake.params
paths = (p.checkpoint, o.generator, o.history, o.curves, o.grid, p.samples_dir, p.tensorboard, o.progress)
train_from_metadata(
    snakemake.input.metadata,
    GanConfig.for_training(p.gan, snakemake.config["gan"]),
    GanOutputs.of(*paths),
    p.device,
    snakemake.threads,
)
