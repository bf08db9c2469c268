"""The DDPM's config: the ``ddpm`` section (Ho et al. 2020; DDIM sampling, Song et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganaug.dataclass_io import as_dict
from ganaug.generators.config import GeneratorConfig

NAME = "ddpm"  # its name in the registry and in every file it writes
# what generator.pt records of the network: enough to rebuild it for sampling
SHAPE_KEYS = (
    "img_size",
    "block_out_channels",
    "layers_per_block",
    "attention_levels",
    "norm_num_groups",
    "conditional",
)
SCHEDULE_KEYS = ("train_timesteps", "beta_schedule", "prediction_type")


@dataclass(frozen=True)
class DdpmConfig(GeneratorConfig):
    img_size: int = 256  # data.image_size; a multiple of 2^(levels - 1)
    block_out_channels: tuple[int, ...] = (64, 128, 256, 256)  # channels per UNet level
    layers_per_block: int = 2  # ResNet blocks per level
    attention_levels: int = 1  # the lowest-resolution levels with self-attention
    norm_num_groups: int = 32  # GroupNorm groups (divides every level's channels)
    train_timesteps: int = 1000  # T of the forward process
    beta_schedule: str = "linear"  # linear (Ho et al.) or squaredcos_cap_v2 (cosine)
    prediction_type: str = "epsilon"  # what the network predicts: epsilon or v_prediction
    batch_size: int = 16  # images per step
    lr: float = 1e-4  # AdamW learning rate after warm-up
    weight_decay: float = 0.0  # AdamW weight decay
    warmup_steps: int = 500  # linear learning-rate warm-up
    total_steps: int = 30_000  # optimiser steps: training length is counted in these
    ema_decay: float = 0.9999  # the EMA's decay (its warm-up ramps up to it)
    hflip: bool = True  # random horizontal flips (a lesion's mirror image is a lesion)
    conditional: bool = False  # class-conditional on the train split's minority and majority
    sampling_steps: int = 50  # DDIM steps per sample (sampling only)
    checkpoint_interval: int = 2_000  # steps between checkpoints
    sample_interval: int = 5_000  # steps between sample grids (DDIM from the EMA weights)
    log_interval: int = 100  # steps between history rows
    bf16: bool = False  # bf16 autocast for the UNet on CUDA (the loss in fp32)
    tf32: bool = True  # TF32 convolutions and matmuls on CUDA
    n_samples: int = 1500  # images sampling writes (sampling only)
    sample_batch_size: int = 32  # images per sampling batch; it does not change the images
    seed: int = 42  # the global seed: initial weights and the training stream

    SECTION = "ddpm"
    LENGTH_KEY = "total_steps"
    # how training is watched, and what only sampling reads: never part of the resume settings
    WATCH_KEYS = ("checkpoint_interval", "sample_interval", "log_interval")
    SAMPLING_KEYS = ("sampling_steps", "n_samples", "sample_batch_size")
    SAMPLED_WITH = (*SHAPE_KEYS, *SCHEDULE_KEYS)  # the file's network and schedule

    def __post_init__(self) -> None:
        levels = len(self.block_out_channels)
        if self.img_size % 2 ** (levels - 1):
            raise ValueError(
                f"ddpm: data.image_size {self.img_size} is not divisible by 2^{levels - 1} "
                f"({levels} levels in ddpm.block_out_channels)"
            )
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            raise ValueError(f"ddpm.norm_num_groups {self.norm_num_groups} does not divide channels {bad}")
        if not 0 <= self.attention_levels <= levels:
            raise ValueError(f"ddpm.attention_levels must be 0..{levels}, not {self.attention_levels}")

    def shape(self) -> dict[str, Any]:
        return {k: as_dict(self)[k] for k in SHAPE_KEYS}
