"""Rule download_isic2019: fetch what is missing of ISIC 2019 into the workflow's own folder
(login node; resumable), or say why there is nothing to fetch."""

from ganaug.data.download import download_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
download_rule(p.base_url, p.sha256, p.nothing_to_fetch)
