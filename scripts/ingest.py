"""Rule ingest: read the label files of the configured format, normalise, screen, select."""

from ganaug.data.isic import ingest
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
labels, rejects = ingest(
    snakemake.params.format,
    snakemake.input.ground_truth,
    snakemake.input.get("metadata") or None,
    snakemake.params.minority,
    snakemake.params.majority,
)
write_csv(rejects, snakemake.output.rejects)
write_csv(labels, snakemake.output.labels)
