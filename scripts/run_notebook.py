"""Rule notebook: execute one analysis notebook with papermill on the files the rule declares."""

from ganaug.notebooks import execute, notebook_paths
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
execute(snakemake.input.notebook, snakemake.output[0], notebook_paths(dict(snakemake.input.items())))
