"""Rule external_set: an external test set's metadata, without the images the archive holds."""

from ganaug.data.external import external_set_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
external_set_rule(
    i.table,
    i.archive,
    o.metadata,
    o.overlap,
    o.summary,
    snakemake.wildcards.ext,
    p.minority,
    p.majority,
    images_dir=i.images,
    archive_hashes=list(i.archive_hashes),
    workers=snakemake.threads,
    rejects=i.rejects,
)
