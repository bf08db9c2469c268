"""Rule report: execute notebooks/report.ipynb with papermill, then HTML without the code."""

from ganaug.notebooks import report_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
report_rule(dict(snakemake.input.items()), o.notebook, o.html, snakemake.params.title)
