"""Rule select_clusters: t-SNE + K-means over ResNet-50 features, cluster-balanced selection."""

import shutil
from pathlib import Path

import torch

from ganaug.curation.clusters import build_feature_extractor
from ganaug.curation.stages import cluster_stage, funnel
from ganaug.data.provenance import manifest_digest
from ganaug.io import write_csv, write_json
from ganaug.runtime import setup_logging
from ganaug.viz import scatter_clusters

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
if p.backbone == "random":
    log.warning("cluster features from a RANDOM-INIT ResNet-50 (offline demo): not comparable")
table, syn_xy, real_xy = cluster_stage(
    snakemake.input.previous,
    snakemake.input.raw,
    snakemake.input.metadata,
    snakemake.input.manifest,
    build_feature_extractor(p.backbone, p.cache_dir, p.seed),
    p.backbone,
    p.n_clusters,
    p.final_count,
    p.min_per_cluster,
    p.seed,
)
out = Path(snakemake.output.curated)
out.mkdir(parents=True, exist_ok=True)
for name in table.loc[table["selected"], "image"]:
    shutil.copyfile(Path(snakemake.input.raw) / name, out / name)
write_csv(table, snakemake.output.clusters)
scatter_clusters(
    syn_xy,
    table["cluster"].to_numpy(),
    table["selected"].to_numpy(),
    real_xy,
    snakemake.output.tsne,
    f"t-SNE of {len(table)} review survivors ({table['backbone'].iloc[0]} features)",
)
stages = {"raw": snakemake.input.manifest, **{k: v for k, v in snakemake.input.items() if k in
          ("blur", "ssim", "lpips", "review")}, "clusters": snakemake.output.clusters}  # fmt: skip
write_json(
    {
        "funnel": funnel(stages),
        "review_mode": p.review_mode,
        "lpips_backbone": p.lpips_backbone,
        "cluster_backbone": p.backbone,
        "simulated_review": p.review_mode == "simulate",
        # the training set of the GAN these images come from (checked by cluster_stage)
        "gan_training_set": manifest_digest(snakemake.input.manifest),
    },
    snakemake.output.summary,
)
