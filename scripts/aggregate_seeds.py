"""Rule aggregate_seeds: mean, sd and every seed of one (arch, condition)."""

import json
from pathlib import Path

from ganaug.evaluation.classification import aggregate_seeds
from ganaug.io import write_json
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
runs = [json.loads(Path(f).read_text()) for f in snakemake.input]
write_json(aggregate_seeds(runs), snakemake.output[0])
