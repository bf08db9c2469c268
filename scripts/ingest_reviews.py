"""Rule ingest_reviews: one generator's review (the page's scores of its images unblinded, or
simulated, or skipped), and its visual Turing test."""

from ganaug.curation.review_stage import Candidates
from ganaug.curation.steps import ingest_reviews_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
candidates = Candidates(p.generator, i.previous, blur=i.blur, ssim=i.ssim)
ingest_reviews_rule(candidates, i.key, i.metadata, i.reviews, o.table, o.turing, **p.curation, seed=p.seed)
