"""Rule review_key: one generator's part of its repeat's review page, blinded, and its key."""

from ganaug.curation.review_stage import Candidates
from ganaug.curation.steps import review_key_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
candidates = Candidates(p.generator, i.previous, i.raw, i.manifest)
review_key_rule(candidates, i.metadata, snakemake.output[0], p.review, p.seed)
