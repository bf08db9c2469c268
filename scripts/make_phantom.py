"""Rule make_phantom: write the embedded phantom data set in the ISIC 2019 layout."""

from ganaug.data.phantom import write_phantom
from ganaug.dataclass_io import from_dict
from ganaug.runtime import setup_logging
from ganaug.settings import PhantomConfig

setup_logging(snakemake.log[0])
o = snakemake.output
write_phantom(
    from_dict(PhantomConfig, snakemake.params.phantom, "data.phantom"),
    o.images,
    o.ground_truth,
    o.metadata,
    o.masks,
    workers=snakemake.threads,
    extra_dir=o.get("extra"),
)
