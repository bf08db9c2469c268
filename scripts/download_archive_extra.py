"""Rule download_archive_extra: the real_extra pool fetched from the ISIC Archive by isic-cli
(login node; a failed run keeps what it fetched), or say why there is nothing to fetch."""

from ganaug.data.archive_pool import archive_pool_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
archive_pool_rule(p.search, p.limit, p.dest, p.nothing_to_fetch)
