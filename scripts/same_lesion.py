"""Rule same_lesion: the archive's same-lesion pairs under two lesion ids -> same_lesion.csv."""

from ganaug.data.same_lesion import same_lesion_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
same_lesion_rule(
    i.table,
    i.get("hashes"),
    snakemake.output.pairs,
    snakemake.params.published,
    list(i.lists),
    snakemake.threads,
)
