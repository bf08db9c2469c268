"""Rule final_results: the study's summary structure, with only this run's measurements."""

from ganaug.evaluation.final_results import final_results_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
final_results_rule(
    dict(snakemake.input.items()),
    snakemake.output[0],
    snakemake.params.provenance,
    generators=snakemake.params.generators,
    **snakemake.params.evaluation,
)
