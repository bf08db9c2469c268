"""Rule make_phantom: write the embedded phantom data set in the ISIC 2019 layout."""

from ganaug.config import PhantomConfig
from ganaug.data.phantom import write_phantom
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
write_phantom(
    PhantomConfig.from_dict(snakemake.params.phantom),
    images_dir=snakemake.output.images,
    ground_truth=snakemake.output.ground_truth,
    metadata=snakemake.output.metadata,
    masks_dir=snakemake.output.get("masks") or None,
    workers=snakemake.threads,
)
