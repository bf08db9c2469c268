"""Sampling the trained WGAN-GP: the latent vector of image i is drawn from its own seed
(``ganaug.generators.sampling.latent_seed``), and the generator runs in eval mode (BatchNorm uses
its running statistics), so an image does not depend on the batch it was generated in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.generators.sampling import GeneratorMismatch, latent, read_generator_file, write_samples
from ganaug.generators.wgan_gp.config import HPARAM_KEYS, NAME
from ganaug.generators.wgan_gp.networks import Generator
from ganaug.runtime import select_device


def load_generator(
    path: str | Path, device: torch.device, expected: dict[str, int] | None = None
) -> tuple[Generator, dict]:
    """Rebuild the generator from ``generator.pt``: (network in eval mode, the file's training-set
    record). With ``expected`` (the config's latent_dim, features_g, img_size), any difference is
    an error that names the file and both values."""
    blob = read_generator_file(path, NAME, "WGAN-GP")
    if not {"state_dict", "hparams"} <= set(blob):
        found = sorted(blob)
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


def sample_rule(
    generator: str | Path, out_dir: str | Path, manifest: str | Path, gan: dict, device: str, threads: int
) -> pd.DataFrame:
    """The rule sample_gan: ``gan`` is the GanConfig (as a dict) the generator must match."""
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
