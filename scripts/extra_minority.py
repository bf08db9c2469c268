"""Rule extra_minority: the real_extra control's pool of extra real minority images."""

from ganaug.data.external import extra_minority_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
extra_minority_rule(
    i.images,
    i.archive,
    o.images,
    o.metadata,
    o.overlap,
    o.rejects,
    p.minority,
    **p.data,
    workers=snakemake.threads,
    archive_hashes=i.archive_hashes,
    hashes_out=o.hashes,
    inclusion=p.inclusion,
)
