"""Rule decode_split: one repeat's real images of one split, decoded once into a uint8 array."""

from ganaug.data.image_cache import decode_split_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
decode_split_rule(i.metadata, w.split, p.image_size, o.npy, o.info, snakemake.threads)
