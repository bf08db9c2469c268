"""Rule report: execute notebooks/report.ipynb with papermill, then HTML without the code."""

from ganaug.notebooks import execute, notebook_paths, to_html
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
execute(snakemake.input.notebook, o.notebook, notebook_paths(dict(snakemake.input.items())))
to_html(o.notebook, o.html, snakemake.params.title)
