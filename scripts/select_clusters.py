"""Rule select_clusters: t-SNE + K-means over backbone features, cluster-balanced selection."""

from ganaug.curation.steps import clusters_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
clusters_rule(
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    **p.curation,
    cache_dir=p.cache_dir,
    seed=p.seed,
    threads=snakemake.threads,
)
