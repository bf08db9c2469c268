"""Rule attribution: the licence and attribution of every real image the run uses."""

from ganaug.data.licences import attribution_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
attribution_rule(
    i.archive,
    p.archive_format,
    snakemake.output[0],
    external={
        name: (i[f"ext_table_{name}"], i[f"ext_meta_{name}"], fmt) for name, fmt in p.external_formats.items()
    },
    extra=i.get("extra"),
    extra_source=p.extra_source,
    extra_format=p.extra_format,
)
