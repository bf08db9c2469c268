"""Rules train_gan (the study's generator) and train_generator (any other registered family, by its
folder {gdir}): train on the train-split minority images; resumes from its checkpoint."""

from ganaug.generators import by_directory, study
from ganaug.generators.loop import GeneratorOutputs, Snapshots
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
o, p, w = snakemake.output, snakemake.params, snakemake.wildcards
fam = by_directory(w.gdir) if w.get("gdir") else study()
paths = (p.checkpoint, o.generator, o.history, o.curves, o.grid, p.samples_dir, p.tensorboard, o.progress)
fam.train(
    snakemake.input.metadata,
    p.settings,  # at the length budget.gpu_hours gives it, where set (training_settings)
    snakemake.config[fam.section],
    GeneratorOutputs.of(*paths, snapshots=Snapshots.of(p.snapshots_dir, o.snapshots, p.snapshot_count)),
    p.device,
    snakemake.threads,
)
