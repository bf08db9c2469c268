"""Sampling the trained generator: image i comes from its own seed, so it is reproducible alone.

The latent vector of image i is drawn from a generator seeded by ``SeedSequence([seed, i])``,
and the generator runs in eval mode (BatchNorm uses its running statistics), so an image does
not depend on the batch it was generated in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from ganaug.io import write_bytes, write_csv
from ganaug.models.generator import Generator
from ganaug.settings import HPARAM_KEYS

log = logging.getLogger(__name__)


class GeneratorMismatch(ValueError):
    """generator.pt is not a generator of the configured architecture and size."""


def load_generator(
    path: str | Path, device: torch.device, expected: dict[str, int] | None = None
) -> tuple[Generator, dict]:
    """Rebuild the generator from ``generator.pt``: (network in eval mode, the file's training-set
    record). With ``expected`` (the config's latent_dim, features_g, img_size), any difference is
    an error that names the file and both values."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise GeneratorMismatch(f"{path}: not a generator file this workflow wrote ({err})") from None
    if isinstance(blob, dict) and blob.get("family", "wgan_gp") != "wgan_gp":
        raise GeneratorMismatch(
            f"{path}: a {blob['family']} generator, not a WGAN-GP one (see ganaug.generators)"
        )
    if not isinstance(blob, dict) or not {"state_dict", "hparams"} <= set(blob):
        found = sorted(blob) if isinstance(blob, dict) else type(blob).__name__
        raise GeneratorMismatch(
            f"{path}: expected a dict with 'state_dict' and 'hparams' (as train_gan writes), found {found}"
        )
    hp = blob["hparams"]
    missing = [k for k in HPARAM_KEYS if k not in hp]
    if missing:
        raise GeneratorMismatch(f"{path}: hparams lack {', '.join(missing)}")
    if expected is not None:
        diff = [f"{k} {hp[k]} (the config: {expected[k]})" for k in HPARAM_KEYS if hp[k] != expected[k]]
        if diff:
            raise GeneratorMismatch(
                f"{path} is a generator of another architecture or size: {', '.join(diff)}. Retrain it "
                "(snakemake --forcerun train_gan) or set gan.latent_dim, gan.features_g and "
                "data.image_size to the file's values"
            )
    try:
        gen = Generator(hp["latent_dim"], 3, hp["features_g"], hp["img_size"])
        gen.load_state_dict(blob["state_dict"])
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[:3]
        raise GeneratorMismatch(
            f"{path}: its weights do not fit the generator its hparams describe ({hp}): " + " ".join(first)
        ) from None
    return gen.to(device).eval(), blob.get("training_set", {})


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
    expected: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Write images 0..n-1 and the manifest (name, index, latent seed, and the fingerprint of the
    training set the generator learnt from, which curation and the fits check)."""
    gen, training_set = load_generator(generator_path, device, expected)
    return write_samples(
        lambda idx: generate(gen, idx, seed, device),
        out_dir,
        manifest,
        n,
        seed,
        batch_size,
        training_set,
        progress,
    )


def write_samples(
    generate_batch: Callable[[list[int]], np.ndarray],
    out_dir: str | Path,
    manifest: str | Path,
    n: int,
    seed: int,
    batch_size: int,
    training_set: dict,
    progress: bool = True,
) -> pd.DataFrame:
    """Images 0..n-1 from ``generate_batch`` (indices -> uint8 RGB), in batches, and the manifest:
    every generator family writes its raw set through this one function."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="sample", unit="batch", mininterval=10)
    for s in starts:
        idx = list(range(s, min(n, s + batch_size)))
        for i, img in zip(idx, generate_batch(idx), strict=True):
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            assert ok
            write_bytes(png.tobytes(), out_dir / image_name(i, n))
    table = pd.DataFrame(
        {
            "image": [image_name(i, n) for i in range(n)],
            "index": range(n),
            "latent_seed": [latent_seed(seed, i) for i in range(n)],
            "gan_training_set": training_set.get("digest", ""),
        }
    )
    write_csv(table, manifest)
    log.info("wrote %d synthetic images to %s", n, out_dir)
    return table


def sample_rule(
    generator: str | Path, out_dir: str | Path, manifest: str | Path, gan: dict, device: str, threads: int
) -> pd.DataFrame:
    """The rule sample_gan: ``gan`` is the GanConfig (as a dict) the generator must match."""
    from ganaug.runtime import select_device

    torch.set_num_threads(threads)
    return sample_images(
        generator,
        out_dir,
        manifest,
        n=gan["n_samples"],
        seed=gan["seed"],
        batch_size=gan["sample_batch_size"],
        device=select_device(device, gan["tf32"]),
        expected={k: gan[k] for k in HPARAM_KEYS},
    )
