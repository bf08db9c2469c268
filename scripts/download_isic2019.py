"""Rule download_isic2019: fetch what is missing of ISIC 2019 into the workflow's own folder
(login node; resumable), or say why there is nothing to fetch."""

from ganaug.data.download import fetch_isic2019
from ganaug.data.sources import download_layout
from ganaug.runtime import setup_logging

log = setup_logging(snakemake.log[0])
if snakemake.params.nothing_to_fetch:
    log.info("nothing to download: %s", snakemake.params.nothing_to_fetch)
else:
    owned = download_layout()  # files already there are skipped
    fetch_isic2019(
        base_url=snakemake.params.base_url,
        images_dir=owned["images"],
        ground_truth=owned["ground_truth"],
        metadata=owned["metadata"],
        sha256=dict(snakemake.params.sha256),
    )
