"""Rule preprocess: crop around the lesion, resize, write PNGs; list rejected images."""

import pandas as pd

from ganaug.data.preprocess import preprocess_all
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
read = dict(dtype=str, keep_default_na=False)
processed, rejects = preprocess_all(
    pd.read_csv(snakemake.input.labels, **read),
    images_dir=snakemake.input.images,
    masks_dir=snakemake.input.get("masks") or None,
    out_dir=snakemake.output.images,
    image_size=snakemake.params.image_size,
    jpeg_draft=snakemake.params.jpeg_draft,
    max_reject_fraction=snakemake.params.max_reject_fraction,
    workers=snakemake.threads,
    label_rejects=pd.read_csv(snakemake.input.label_rejects, **read),
)
write_csv(rejects, snakemake.output.rejects, for_spreadsheets=True)
write_csv(processed, snakemake.output.table)
