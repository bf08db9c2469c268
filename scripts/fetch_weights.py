"""Rule fetch_weights (local): download every pretrained file the config needs into the cache."""

from ganaug.runtime import setup_logging
from ganaug.weights import WeightFile, fetch

setup_logging(snakemake.log[0])
fetch([WeightFile(**f) for f in snakemake.params.files], snakemake.params.cache_dir, snakemake.params.mirror)
