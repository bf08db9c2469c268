"""StyleGAN2-ADA's GPU cost: its minibatch phases tallied on the meta device, and its stages for the
study's cost model (``ganaug.cost``).

One period of ``lcm(d_reg_interval, g_reg_interval)`` minibatches is tallied: that many main
generator and discriminator steps, the path-length steps and the R1 steps among them, so the lazy
regularisers count at their real rate. The augmentation's resampling is counted on every image
the discriminator sees (at p > 0 it runs on every batch)."""

from __future__ import annotations

import math

import torch

from ganaug.cost.model import Stage, Work
from ganaug.cost.tally import META, Tally, tally
from ganaug.generators.stylegan2_ada import losses
from ganaug.generators.stylegan2_ada.augment import apply_colour, apply_geometric
from ganaug.generators.stylegan2_ada.config import NAME, StyleGan2AdaConfig
from ganaug.generators.stylegan2_ada.networks import build


def stages(cfg: StyleGan2AdaConfig, repeats: int) -> list[Stage]:
    """Its training minibatches, then sampling from the EMA generator, in every repeat."""
    prec = "bf16" if cfg.bf16 else "tf32" if cfg.tf32 else "fp32"
    period, step = iteration_period(cfg)
    batches = math.ceil(cfg.n_samples / cfg.sample_batch_size)
    return [
        Stage(f"train_{NAME}", f"train_{NAME}", repeats, [Work(step, cfg.total_iterations / period, prec)]),
        Stage(
            f"sample_{NAME}",
            f"sample_{NAME}",
            repeats,
            [Work(sampling(cfg), batches, prec)],
            host_s=cfg.n_samples / 500,
        ),
    ]


def _augment(x: torch.Tensor) -> torch.Tensor:
    n = len(x)
    eye3, eye4 = (
        torch.eye(3, dtype=torch.float64).repeat(n, 1, 1),
        torch.eye(4, dtype=torch.float64).repeat(n, 1, 1),
    )
    return apply_colour(apply_geometric(x, eye3), eye4)


def iteration_period(cfg: StyleGan2AdaConfig) -> tuple[int, Tally]:
    """(period, the tally of one period of minibatches) as the trainer runs them."""
    gen, disc = (m.to(META) for m in build(cfg.shape()))
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, foreach=True)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, foreach=True)
    b, size = cfg.batch_size, cfg.img_size
    z = torch.empty(b, cfg.z_dim, device=META)
    real = torch.empty(b, 3, size, size, device=META)

    def step(opt, loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def g_main():
        disc.requires_grad_(False)
        step(opt_g, losses.generator_loss(disc(_augment(gen(z)))))
        disc.requires_grad_(True)

    def d_main():
        with torch.no_grad():
            fake = gen(z)
        step(opt_d, losses.discriminator_loss(disc(_augment(fake)), disc(_augment(real))))

    def g_pl():
        ws = gen.ws(z[: max(1, b // 2)])
        images = gen.synthesis(ws)
        step(opt_g, losses.path_lengths(images, ws, torch.empty_like(images)).mean())

    def d_r1():
        x = real.detach().requires_grad_(True)
        step(opt_d, losses.r1(disc(_augment(x)), x).mean())

    for f in (g_main, d_main, g_pl, d_r1):  # once first: Adam's state exists from the second step
        f()
    g_every = cfg.g_reg_interval if cfg.pl_weight > 0 else 1
    period = math.lcm(cfg.d_reg_interval, g_every)
    out = (tally(g_main) + tally(d_main)).times(period) + tally(d_r1).times(period // cfg.d_reg_interval)
    if cfg.pl_weight > 0:
        out = out + tally(g_pl).times(period // cfg.g_reg_interval)
    return period, out


def sampling(cfg: StyleGan2AdaConfig) -> Tally:
    """One sampling batch: the EMA generator's forward under no_grad."""
    gen, _ = build(cfg.shape())
    gen = gen.to(META).eval()
    z = torch.empty(cfg.sample_batch_size, cfg.z_dim, device=META)
    with torch.no_grad():
        return tally(lambda: gen(z))
