"""Sampling the trained generator: image i comes from its own seed, so it is reproducible alone.

The latent vector of image i is drawn from a generator seeded by ``SeedSequence([seed, i])``,
and the generator runs in eval mode (BatchNorm uses its running statistics), so an image does
not depend on the batch it was generated in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from ganaug.io import write_bytes, write_csv
from ganaug.models.generator import Generator

log = logging.getLogger(__name__)


def load_generator(path: str | Path, device: torch.device) -> Generator:
    """Rebuild the generator from ``generator.pt`` (weights and the three sizes it needs)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    hp = blob["hparams"]
    gen = Generator(hp["latent_dim"], 3, hp["features_g"], hp["img_size"])
    gen.load_state_dict(blob["state_dict"])
    return gen.to(device).eval()


def latent_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def latent(seed: int, index: int, latent_dim: int) -> torch.Tensor:
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(latent_seed(seed, index)))


def image_name(index: int, n: int) -> str:
    return f"generated_{index:0{max(4, len(str(n - 1)))}d}.png"


@torch.no_grad()
def generate(gen: Generator, indices: list[int], seed: int, device: torch.device) -> np.ndarray:
    """uint8 (len(indices), H, W, 3) RGB images for the given indices."""
    z = torch.stack([latent(seed, i, gen.latent_dim) for i in indices]).to(device)
    x = gen(z).float().clamp(-1, 1)
    # [-1, 1] -> [0, 255]: the inverse of the training normalisation x / 127.5 - 1
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_images(
    generator_path: str | Path,
    out_dir: str | Path,
    manifest: str | Path,
    n: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> pd.DataFrame:
    gen = load_generator(generator_path, device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="sample", unit="batch")
    for s in starts:
        idx = list(range(s, min(n, s + batch_size)))
        for i, img in zip(idx, generate(gen, idx, seed, device), strict=True):
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            assert ok
            write_bytes(png.tobytes(), out_dir / image_name(i, n))
    table = pd.DataFrame(
        {
            "image": [image_name(i, n) for i in range(n)],
            "index": range(n),
            "latent_seed": [latent_seed(seed, i) for i in range(n)],
        }
    )
    write_csv(table, manifest)
    log.info("wrote %d synthetic images to %s", n, out_dir)
    return table
