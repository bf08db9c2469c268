"""Rule gan_metrics: FID, IS, KID, precision/recall, LPIPS and SSIM of the raw and the curated
synthetic sets against the real train-split minority images, and 10 real beside 10 synthetic."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.curation.stages import read_images, real_reference
from ganaug.evaluation.features import build_extractor
from ganaug.evaluation.gan_metrics import inception_score
from ganaug.evaluation.synthetic_quality import Settings, evaluate_set, reference
from ganaug.io import atomic_path, write_csv, write_json
from ganaug.runtime import select_device, setup_logging
from ganaug.viz import real_beside_synthetic
from ganaug.weights import backbone_label

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = select_device(p.device)
settings = Settings(**p.settings, seed=p.seed)
extractor = build_extractor(p.extractor, p.cache_dir, p.seed)
if not extractor.comparable:
    log.warning("GAN metrics with a RANDOM-INIT Inception: not comparable to any published FID/IS")
fast = FastLpips(build_lpips(p.lpips_backbone, p.cache_dir, p.seed), device)
lpips_label = backbone_label("vgg16", p.lpips_backbone)

real_ids, real = real_reference(
    snakemake.input.metadata, grey=False, size=p.image_size, manifest=snakemake.input.manifest
)
ref = reference(real_ids, real, extractor, device, settings)
sets, images, per_image, features = {}, {}, [], {"real_ids": np.array(real_ids), "real_pool": ref.pool}
for name in ("raw", "curated"):
    folder = snakemake.input[name]
    names = sorted(f.name for f in Path(folder).glob("*.png"))
    if not names:
        raise RuntimeError(f"no PNG images in {folder}")
    images[name] = read_images(folder, names, grey=False)
    log.info("%s: %d synthetic images against %d real train-split images", name, len(names), len(real))
    result = evaluate_set(names, images[name], ref, extractor, fast, lpips_label, device, settings, name)
    sets[name] = result.summary
    per_image.append(result.per_image.assign(set=name))
    features |= {
        f"{name}_images": np.array(names),
        f"{name}_pool": result.pool,
        f"{name}_logits": result.logits,
    }

rng = np.random.default_rng(p.seed)
k = p.n_show
show_real = real[np.sort(rng.choice(len(real), min(k, len(real)), replace=False))]
show_syn = images["curated"][
    np.sort(rng.choice(len(images["curated"]), min(k, len(images["curated"])), replace=False))
]
real_beside_synthetic(
    show_real,
    show_syn,
    snakemake.output.figure,
    f"{len(show_real)} real training images beside {len(show_syn)} curated synthetic images",
)
# the features (float32) and per-image values every figure of metrics.json is recomputed from
with atomic_path(snakemake.output.features) as tmp, open(tmp, "wb") as fh:
    np.savez_compressed(fh, **features)
table = pd.concat(per_image)
write_csv(table[["set", *(c for c in table.columns if c != "set")]], snakemake.output.per_image)
write_json(
    {
        "reference": {
            "set": "real train-split minority images",
            "n": len(real),
            "note": "FID and KID on a few hundred images are biased upward; "
            "compare only figures computed on equal set sizes",
        },
        "feature_extractor": {"name": extractor.label, "comparable": extractor.comparable},
        "inception_score_real": inception_score(
            ref.logits, min(settings.is_splits, len(ref.logits)), settings.seed
        ),
        "sets": sets,
    },
    snakemake.output.metrics,
)
