"""Rule ingest: read the label files of the configured format, normalise, screen, select."""

from ganaug.data.ingest import ingest_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
ingest_rule(i.ground_truth, i.get("metadata") or None, o.labels, o.rejects, **snakemake.params.data)
