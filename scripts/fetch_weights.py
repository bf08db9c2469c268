"""Rule fetch_weights (local): download the missing pretrained files the config needs into the
cache, and check every one (also those already there)."""

from ganaug.pretrained import VERIFIERS, resolve_timm
from ganaug.runtime import setup_logging
from ganaug.weights import WeightFile, fetch

setup_logging(snakemake.log[0])
fetch(
    [WeightFile(**f) for f in snakemake.params.files],
    snakemake.params.cache_dir,
    snakemake.params.mirror,
    VERIFIERS,
    resolve_timm,
)
