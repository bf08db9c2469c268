"""Rule notebook: execute one analysis notebook with papermill on the files the rule declares."""

from ganaug.notebooks import notebook_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
notebook_rule(dict(snakemake.input.items()), snakemake.output[0])
