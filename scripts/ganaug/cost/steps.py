"""One step of each GPU stage, tallied on torch's meta device at the config's sizes.

Each function builds the stage's real networks (random weights: the counts do not depend on
them), moves them to ``meta`` and tallies one step as the workflow runs it, in its steady state
(an optimiser's state is made on its first step, so that step is run once untallied).
"""

from __future__ import annotations

import functools

import torch

from ganaug.cost.tally import META, Tally, tally
from ganaug.settings import DdpmConfig, GanConfig


def gan_steps(cfg: GanConfig) -> tuple[Tally, Tally]:
    """(one critic step, one generator step) as ganaug.training.gan's _Trainer runs them: the
    critic on real and fake together, the penalty's double backward, Adam (the multi-tensor Adam
    torch picks for CUDA parameters); then the generator through the frozen critic."""
    from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty
    from ganaug.training.gan import build_models

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


def captured_host_ops(cfg: GanConfig) -> Tally:
    """What the host dispatches for one replayed critic step besides the launch: the trainer's
    own ``stage_critic_inputs`` (the batch's indices, the noise, the interpolation weights),
    tallied on a small CPU trainer (the count does not depend on the sizes)."""
    from dataclasses import replace

    from ganaug.data.provenance import MinorityTrainSet
    from ganaug.training.gan import GanOutputs, _Trainer

    small = replace(cfg, img_size=32, features_g=2, features_d=2, cuda_graph=False, diffaugment="")
    x = torch.zeros(small.batch_size, 3, 32, 32, dtype=torch.uint8)
    ids = [f"ISIC_{i:07d}" for i in range(small.batch_size)]
    t = _Trainer(small, MinorityTrainSet(ids, x), GanOutputs.in_folder("/nonexistent"), torch.device("cpu"))
    t._capture()  # the static inputs alone: no graph is made on the CPU
    return tally(t.stage_critic_inputs)


def foreach_like(tensors: list[torch.Tensor], ops: int, passes: float) -> Tally:
    """What ``ops`` multi-tensor (foreach) kernels over ``tensors`` cost: one dispatch and one
    kernel each, moving the tensors' bytes ``passes`` times in all (meta tensors have no foreach
    norm, so gradient clipping is tallied this way)."""
    import numpy as np

    total = sum(t.numel() * t.element_size() for t in tensors)
    return Tally(ops, np.zeros(ops), np.full(ops, passes * total / ops))


def ddpm_step(cfg: DdpmConfig) -> Tally:
    """One DDPM training step as ganaug.training.diffusion runs it on a GPU: the UNet's forward and
    backward, gradient clipping (foreach on CUDA: a norm of every gradient, their norm, one scale),
    AdamW, and the batched EMA update (ganaug.training.ema: three multi-tensor ops)."""
    from ganaug.training.diffusion import build_unet
    from ganaug.training.ema import BatchedEma

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
    from ganaug.training.diffusion import build_unet

    unet = build_unet(cfg.shape(), cfg.seed).to(META).eval()
    b = cfg.sample_batch_size
    x = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)
    t = torch.zeros(b, dtype=torch.long, device=META)
    labels = torch.zeros(b, dtype=torch.long, device=META) if cfg.conditional else None
    with torch.no_grad():
        return tally(lambda: unet(x, t, class_labels=labels))


@functools.cache
def classifier_steps(arch: str, size: int, batch: int, eval_batch: int) -> dict[str, Tally]:
    """One training step (forward, backward, Adam) and one prediction batch of ``arch`` (tallied
    once a process: the projection and its anchors' table share them)."""
    from ganaug.models.classifiers import _build, arch_spec, replace_head

    spec = arch_spec(arch)
    torch.manual_seed(0)
    model = _build(spec)
    replace_head(model, spec, 2)
    model = model.to(META)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4, foreach=True)

    def train_step():
        x = torch.empty(batch, 3, size, size, device=META)
        loss = torch.nn.functional.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long, device=META))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def predict():
        with torch.no_grad():
            model(torch.empty(eval_batch, 3, size, size, device=META))

    model.train()
    train_step()
    out = {"train_step": tally(train_step)}
    model.eval()
    out["predict_batch"] = tally(predict)
    return out


def feature_pass(name: str, size: int, batch: int) -> Tally:
    """A forward batch of the curation's and the GAN metrics' feature networks."""
    import torchvision

    if name == "inception":
        model, size = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False), 299
    else:  # the curation's LPIPS trunk: VGG16's features (ganaug.curation.lpips_fast)
        model = torchvision.models.vgg16(weights=None).features
    model = model.to(META).eval()
    with torch.no_grad():
        return tally(lambda: model(torch.empty(batch, 3, size, size, device=META)))


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks do not support the
    autograd.grad call of the gradient penalty; only the global total is needed here."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def flops_per_iteration(cfg: GanConfig, device: torch.device) -> float:
    """FLOPs of one generator iteration (n_critic critic steps with the penalty's double
    backward, then one generator step), counted by torch's FlopCounterMode on real steps: the
    check on gan_steps' count on meta tensors (the WGAN-GP has no grouped convolutions, so
    torch's formulas hold for it)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty
    from ganaug.training.gan import build_models

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
