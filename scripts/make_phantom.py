"""Rules make_phantom and make_external_phantom: write a phantom data set in the ISIC 2019 layout."""

from ganaug.data.phantom import phantom_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
o, w = snakemake.output, snakemake.wildcards
where = f"evaluation.external.{w.ext}.phantom" if w.get("ext") else "data.phantom"
phantom_rule(
    snakemake.params.phantom,
    where,
    o.images,
    o.ground_truth,
    o.metadata,
    o.masks,
    extra_dir=o.get("extra"),
    threads=snakemake.threads,
)
