"""The WGAN-GP's GPU cost: one training iteration tallied on the meta device as its trainer runs
it, and its stages for the study's cost model (``ganaug.cost``)."""

from __future__ import annotations

import torch

from ganaug.cost.model import Stage, Work
from ganaug.cost.tally import META, Tally, tally
from ganaug.data.provenance import MinorityTrainSet
from ganaug.generators.loop import GeneratorOutputs
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.generators.wgan_gp.training import _Trainer, build_models


def stages(cfg: WganGpConfig, repeats: int) -> list[Stage]:
    """Its training and sampling in every repeat. Its penalty, most of its FLOPs, runs outside
    autocast whatever gan.bf16 says, so the arithmetic counts as TF32 or fp32."""
    prec = "tf32" if cfg.tf32 else "fp32"
    critic, gen = gan_steps(cfg)
    # one iteration: n_critic critic steps, then a generator step
    iteration = critic.times(cfg.n_critic) + gen
    return [
        Stage("train_gan", "train_gan", repeats, [Work(iteration, cfg.total_iterations, prec)]),
        Stage("sample_gan", "sample_gan", repeats, [], host_s=cfg.n_samples / 500),
    ]


def gan_steps(cfg: WganGpConfig) -> tuple[Tally, Tally]:
    """(one critic step, one generator step) as the family's _Trainer runs them: the
    critic on real and fake together, the penalty's double backward, Adam (the multi-tensor Adam
    torch picks for CUDA parameters); then the generator through the frozen critic."""
    gen, critic = (m.to(META) for m in build_models(cfg))
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr_d, foreach=True)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, foreach=True)
    b = cfg.batch_size
    real = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)

    def critic_step():
        with torch.no_grad():
            fake = gen(torch.empty(b, cfg.latent_dim, device=META))
        d_real, d_fake = critic(torch.cat([real, fake])).split(b)
        gp = gradient_penalty(critic, real, fake, torch.empty(b, device=META))
        opt_d.zero_grad(set_to_none=True)
        critic_loss(d_real, d_fake, gp, cfg.lambda_gp).total.backward()
        opt_d.step()

    def generator_step():
        critic.requires_grad_(False)
        loss = generator_loss(critic(gen(torch.empty(b, cfg.latent_dim, device=META))))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        critic.requires_grad_(True)

    critic_step()
    generator_step()
    step = tally(critic_step)
    if cfg.cuda_graph:  # gan.cuda_graph: the host refills the inputs and launches the graph
        step = step.replayed(captured_host_ops(cfg))
    return step, tally(generator_step)


def captured_host_ops(cfg: WganGpConfig) -> Tally:
    """What the host dispatches for one replayed critic step besides the launch: the trainer's
    own ``stage_critic_inputs`` (the batch's indices, the noise, the interpolation weights),
    tallied on a small CPU trainer (the count does not depend on the sizes)."""
    from dataclasses import replace

    small = replace(cfg, img_size=32, features_g=2, features_d=2, cuda_graph=False, diffaugment="")
    x = torch.zeros(small.batch_size, 3, 32, 32, dtype=torch.uint8)
    ids = [f"ISIC_{i:07d}" for i in range(small.batch_size)]
    t = _Trainer(
        small, MinorityTrainSet(ids, x), GeneratorOutputs.in_folder("/nonexistent"), torch.device("cpu")
    )
    t._capture()  # the static inputs alone: no graph is made on the CPU
    return tally(t.stage_critic_inputs)


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks do not support the
    autograd.grad call of the gradient penalty; only the global total is needed here."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def flops_per_iteration(cfg: WganGpConfig, device: torch.device) -> float:
    """FLOPs of one generator iteration (n_critic critic steps with the penalty's double
    backward, then one generator step), counted by torch's FlopCounterMode on real steps: the
    check on gan_steps' count on meta tensors (the WGAN-GP has no grouped convolutions, so
    torch's formulas hold for it)."""
    from torch.utils.flop_counter import FlopCounterMode

    gen, critic = build_models(cfg)
    gen, critic = gen.to(device), critic.to(device)
    real = torch.zeros(cfg.batch_size, 3, cfg.img_size, cfg.img_size, device=device)
    z = torch.randn(cfg.batch_size, cfg.latent_dim, device=device)
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fake = gen(z).detach()
        gp = gradient_penalty(critic, real, fake)
        critic_loss(critic(real), critic(fake), gp, cfg.lambda_gp).total.backward()
    critic_step = counter.get_total_flops()
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        critic.requires_grad_(False)
        generator_loss(critic(gen(z))).backward()
        critic.requires_grad_(True)
    return float(cfg.n_critic * critic_step + counter.get_total_flops())
