"""The DDPM's network and schedules, from diffusers: the UNet (``UNet2DModel``), the forward
process (``DDPMScheduler``) and DDIM sampling (``DDIMScheduler``, eta = 0: deterministic from the
initial noise, Song et al. 2021).

Image i starts from noise drawn from its own seed (``latent_seed``, as every family's sampling),
so an image depends only on its index (GroupNorm and attention act per image), up to the float
rounding of a batched convolution: at most one grey level between batch sizes on the CPU (tested).
"""

from __future__ import annotations

from typing import Any

import torch

from ganaug.generators.sampling import latent_seed

MINORITY, MAJORITY = 1, 0  # class labels of the conditional model


def build_unet(shape: dict[str, Any], seed: int | None = None):
    """The UNet of ``shape`` (SHAPE_KEYS); seeded weights when ``seed`` is given."""
    from diffusers import UNet2DModel

    levels = len(shape["block_out_channels"])
    attn = [i >= levels - shape["attention_levels"] for i in range(levels)]
    if seed is not None:
        torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=shape["img_size"],
        in_channels=3,
        out_channels=3,
        layers_per_block=shape["layers_per_block"],
        block_out_channels=tuple(shape["block_out_channels"]),
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attn),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)),
        norm_num_groups=shape["norm_num_groups"],
        num_class_embeds=2 if shape["conditional"] else None,
    )


def schedule(cls_name: str, cfg: dict[str, Any]):
    import diffusers

    return getattr(diffusers, cls_name)(
        num_train_timesteps=cfg["train_timesteps"],
        beta_schedule=cfg["beta_schedule"],
        prediction_type=cfg["prediction_type"],
        clip_sample=True,
    )


def target(sched, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(x0, noise, t)


@torch.no_grad()
def ddim_sample(
    unet, noise: torch.Tensor, steps: int, schedule_cfg: dict[str, Any], labels=None
) -> torch.Tensor:
    """DDIM (eta = 0) from the initial ``noise``: images in [-1, 1]."""
    sched = schedule("DDIMScheduler", schedule_cfg)
    sched.set_timesteps(steps)
    x = noise
    was_training = unet.training
    unet.eval()
    for t in sched.timesteps:
        eps = unet(x, t, class_labels=labels).sample.float()
        x = sched.step(eps, t, x, eta=0.0).prev_sample
    unet.train(was_training)
    return x.clamp(-1, 1)


def initial_noise(seed: int, indices: list[int], size: int) -> torch.Tensor:
    """x_T of each image, from the image's own seed."""
    return torch.stack(
        [
            torch.randn(3, size, size, generator=torch.Generator().manual_seed(latent_seed(seed, i)))
            for i in indices
        ]
    )
