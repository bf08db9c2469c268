"""Sampling the trained StyleGAN2-ADA: the EMA generator, image i from the latent vector of its
own seed (``ganaug.generators.sampling.latent_seed``), the fixed noise images of training's last
EMA state, psi = 1 (no truncation, as FID is measured), so an image depends on its index only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.generators.sampling import GeneratorMismatch, latent, read_generator_file, write_samples
from ganaug.generators.stylegan2_ada.config import NAME, SHAPE_KEYS
from ganaug.runtime import select_device


def fixed_latents(seed: int, indices: list[int], z_dim: int) -> torch.Tensor:
    """z of each index from its own seed: (len(indices), z_dim)."""
    return torch.stack([latent(seed, i, z_dim) for i in indices])


def load(path: str | Path, device: torch.device, expected: dict[str, Any] | None = None):
    """(the EMA generator in eval mode, the file's blob); the shape must be the config's."""
    from ganaug.generators.stylegan2_ada.networks import build

    blob = read_generator_file(path, NAME, "StyleGAN2-ADA")
    hp = blob["hparams"]
    if expected is not None:
        diff = [
            f"{k} {hp.get(k)} (the config: {expected[k]})" for k in SHAPE_KEYS if hp.get(k) != expected[k]
        ]
        if diff:
            raise GeneratorMismatch(
                f"{path} is a StyleGAN2-ADA generator of another shape: {', '.join(diff)}. Retrain it "
                "(snakemake --forcerun train_generator) or set the stylegan2_ada section to the file's values"
            )
    gen, _ = build(hp)
    gen.load_state_dict(blob["state_dict"])
    return gen.to(device).eval(), blob


@torch.no_grad()
def generate(gen, indices: list[int], seed: int, device: torch.device) -> np.ndarray:
    """uint8 (len(indices), H, W, 3) RGB images."""
    x = gen(fixed_latents(seed, indices, gen.z_dim).to(device)).float().clamp(-1, 1)
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_rule(
    generator: str | Path, out_dir: str | Path, manifest: str | Path, params: dict, device: str, threads: int
) -> pd.DataFrame:
    """The rule sample_generator: ``params`` are the config's sampling params (its shape too)."""
    torch.set_num_threads(threads)
    dev = select_device(device, params["tf32"])
    gen, blob = load(generator, dev, params)
    return write_samples(
        lambda idx: generate(gen, idx, params["seed"], dev),
        out_dir,
        manifest,
        params["n_samples"],
        params["seed"],
        params["sample_batch_size"],
        blob.get("training_set") or {},
    )
