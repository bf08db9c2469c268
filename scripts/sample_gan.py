"""Rules sample_gan (the study's generator) and sample_generator (any other registered family, by
its folder {gdir}): n_samples images from the selected snapshot of the trained generator (rule
select_snapshot), one seed per image; the manifest names the snapshot."""

from ganaug.generators import by_directory, study
from ganaug.generators.snapshots import stamp_manifest
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
w = snakemake.wildcards
fam = by_directory(w.gdir) if w.get("gdir") else study()
fam.sample(
    snakemake.input.generator,
    snakemake.output.images,
    snakemake.output.manifest,
    snakemake.params.settings,
    snakemake.params.device,
    snakemake.threads,
)
stamp_manifest(snakemake.output.manifest, snakemake.input.snapshot)
