"""The DDPM's GPU cost: a training step and a DDIM sampling step tallied on the meta device as
its trainer and sampler run them, and its stages for the study's cost model (``ganaug.cost``)."""

from __future__ import annotations

import torch

from ganaug.cost.model import Stage, Work
from ganaug.cost.steps import foreach_like
from ganaug.cost.tally import META, Tally, tally
from ganaug.generators.ddpm.config import DdpmConfig
from ganaug.generators.ddpm.ema import BatchedEma
from ganaug.generators.ddpm.networks import build_unet


def stages(cfg: DdpmConfig, repeats: int) -> list[Stage]:
    """Its training steps, then DDIM sampling, which is not free, in every repeat."""
    prec = "bf16" if cfg.bf16 else "tf32" if cfg.tf32 else "fp32"
    batches = -(-cfg.n_samples // cfg.sample_batch_size) * cfg.sampling_steps
    return [
        Stage("train_ddpm", "train_ddpm", repeats, [Work(ddpm_step(cfg), cfg.total_steps, prec)]),
        Stage(
            "sample_ddpm",
            "sample_ddpm",
            repeats,
            [Work(ddpm_sampling(cfg), batches, prec)],
            host_s=cfg.n_samples / 500,
        ),
    ]


def ddpm_step(cfg: DdpmConfig) -> Tally:
    """One DDPM training step as its trainer runs it on a GPU: the UNet's forward and
    backward, gradient clipping (foreach on CUDA: a norm of every gradient, their norm, one scale),
    AdamW, and the batched EMA update (its BatchedEma: three multi-tensor ops)."""
    unet = build_unet(cfg.shape(), cfg.seed).to(META)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, foreach=True)
    ema = BatchedEma(unet.parameters(), decay=cfg.ema_decay)
    b = cfg.batch_size
    x = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)
    t = torch.zeros(b, dtype=torch.long, device=META)
    labels = torch.zeros(b, dtype=torch.long, device=META) if cfg.conditional else None

    def step():
        loss = torch.nn.functional.mse_loss(unet(x, t, class_labels=labels).sample, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.step(unet.parameters())

    step()
    grads = [p.grad for p in unet.parameters() if p.grad is not None]
    # clipping: the norms (read every gradient), stack and norm, then scale them (read and write)
    return tally(step) + foreach_like(grads, 4, 3.0)


def ddpm_sampling(cfg: DdpmConfig) -> Tally:
    """One DDIM step of one sampling batch: a UNet forward under no_grad (the scheduler's update
    is a few elementwise ops). The whole raw set is ceil(n / batch) x sampling_steps of these."""
    unet = build_unet(cfg.shape(), cfg.seed).to(META).eval()
    b = cfg.sample_batch_size
    x = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)
    t = torch.zeros(b, dtype=torch.long, device=META)
    labels = torch.zeros(b, dtype=torch.long, device=META) if cfg.conditional else None
    with torch.no_grad():
        return tally(lambda: unet(x, t, class_labels=labels))


def flops_per_step(cfg: DdpmConfig) -> tuple[float, float]:
    """FLOPs of one training step (forward and backward at cfg.batch_size) and of one sampling
    forward of one image, counted by FlopCounterMode at the config's size on the meta device
    (shapes only: the study's 256-px batch would need tens of GB of activations on the CPU)."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = torch.device("meta")
    net = build_unet(cfg.shape(), cfg.seed).to(meta)
    x = torch.zeros(cfg.batch_size, 3, cfg.img_size, cfg.img_size, device=meta)
    t = torch.zeros(cfg.batch_size, dtype=torch.long, device=meta)
    labels = torch.zeros(cfg.batch_size, dtype=torch.long, device=meta) if cfg.conditional else None
    with FlopCounterMode(display=False) as c:
        net(x, t, class_labels=labels).sample.square().mean().backward()
    train = c.get_total_flops()
    with torch.no_grad(), FlopCounterMode(display=False) as c:
        net(x[:1], t[:1], class_labels=None if labels is None else labels[:1])
    return float(train), float(c.get_total_flops())
