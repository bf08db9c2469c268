"""Rule download_isic2019: fetch the ISIC 2019 training files (login node; resumable)."""

from ganaug.data.download import fetch_isic2019
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
fetch_isic2019(
    base_url=snakemake.params.base_url,
    images_dir=snakemake.output.images,
    ground_truth=snakemake.output.ground_truth,
    metadata=snakemake.output.get("metadata") or None,
    sha256=dict(snakemake.params.sha256),
)
