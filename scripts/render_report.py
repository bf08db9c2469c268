"""Rule report: execute notebooks/report.ipynb with papermill, then HTML without the code."""

from ganaug.notebooks import execute, to_html
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
execute(snakemake.input.notebook, snakemake.output.notebook, snakemake.params.results_dir)
to_html(snakemake.output.notebook, snakemake.output.html, snakemake.params.title)
