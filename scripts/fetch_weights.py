"""Rule fetch_weights (local): download the missing pretrained files the config needs into the
cache, and check every one (also those already there)."""

from ganaug.pretrained import fetch_weights_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
fetch_weights_rule(p.files, p.cache_dir, p.mirror)
