"""Rule notebook: execute one analysis notebook with papermill against the results folder."""

from ganaug.notebooks import execute
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
execute(snakemake.input.notebook, snakemake.output[0], snakemake.params.results_dir)
