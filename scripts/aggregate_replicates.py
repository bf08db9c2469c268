"""Rule aggregate_replicates: mean, sd and every replicate (repeat x seed) of one (arch, condition)."""

import json
from pathlib import Path

from ganaug.evaluation.classification import aggregate_replicates
from ganaug.io import write_json
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
runs = [json.loads(Path(f).read_text()) for f in snakemake.input]
write_json(aggregate_replicates(runs), snakemake.output[0])
