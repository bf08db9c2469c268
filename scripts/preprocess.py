"""Rule preprocess: crop around the lesion, resize, write PNGs; list rejected images."""

from ganaug.data.preprocess import preprocess_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
preprocess_rule(
    i.labels,
    i.label_rejects,
    i.images,
    i.get("masks") or None,
    o.images,
    o.table,
    o.rejects,
    **snakemake.params.data,
    workers=snakemake.threads,
)
