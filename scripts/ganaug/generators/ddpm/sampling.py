"""Sampling the trained DDPM: DDIM from the EMA weights, image i from its own seed, the
minority class of a conditional model; the generator file's shape and schedule must match the
config's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.generators.ddpm.config import NAME, SCHEDULE_KEYS, SHAPE_KEYS
from ganaug.generators.ddpm.networks import MINORITY, build_unet, ddim_sample, initial_noise
from ganaug.generators.sampling import GeneratorMismatch, read_generator_file, write_samples
from ganaug.runtime import select_device


def load(path: str | Path, device: torch.device, expected: dict[str, Any] | None = None):
    """(the EMA network in eval mode, the file's blob) from a DDPM ``generator.pt``."""
    blob = read_generator_file(path, NAME, "DDPM")
    if expected is not None:
        want = {k: expected[k] for k in (*SHAPE_KEYS, *SCHEDULE_KEYS)}
        have = {**blob["hparams"], **blob["schedule"]}
        diff = [
            f"{k} {have.get(k)} (the config: {v})"
            for k, v in want.items()
            if _plain(have.get(k)) != _plain(v)
        ]
        if diff:
            raise GeneratorMismatch(
                f"{path} is a DDPM of another shape or schedule: {', '.join(diff)}. Retrain it "
                "(snakemake --forcerun train_generator) or set the ddpm section to the file's values"
            )
    net = build_unet(blob["hparams"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), blob


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list) else v


def generate(net, blob: dict, indices: list[int], seed: int, steps: int, device: torch.device) -> np.ndarray:
    """uint8 (len(indices), H, W, 3) RGB images of the minority class."""
    size = blob["hparams"]["img_size"]
    noise = initial_noise(seed, indices, size).to(device)
    labels = torch.full((len(indices),), MINORITY, device=device) if blob["hparams"]["conditional"] else None
    x = ddim_sample(net, noise, steps, blob["schedule"], labels).float()
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_rule(
    generator: str | Path, out_dir: str | Path, manifest: str | Path, params: dict, device: str, threads: int
) -> pd.DataFrame:
    """The rule sample_generator for the DDPM: ``params`` are the DdpmConfig's sampling params, which the
    file's shape and schedule must match."""
    torch.set_num_threads(threads)
    dev = select_device(device, params["tf32"])
    net, blob = load(generator, dev, params)
    return write_samples(
        lambda idx: generate(net, blob, idx, params["seed"], params["sampling_steps"], dev),
        out_dir,
        manifest,
        params["n_samples"],
        params["seed"],
        params["sample_batch_size"],
        blob.get("training_set") or {},
    )
