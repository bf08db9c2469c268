"""WGAN-GP training: the loop, resumable from checkpoints and stoppable by SIGTERM.

One "iteration" is one generator update after ``n_critic`` critic updates (Gulrajani et al.
2017, Algorithm 1). Each critic update draws a fresh real batch from an endless shuffled sampler,
as the reference code does (the study's loop reused one batch for all five critic steps).

Every random number (batches, noise, interpolation weights, DiffAugment) comes from one CPU
``torch.Generator`` whose state is in the checkpoint, so on the CPU a run that is killed and
resumed ends with the same weights as one that never stopped (tested to 1e-6).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.data.provenance import MinorityTrainSet
from ganaug.io import atomic_path, write_csv
from ganaug.models.discriminator import Discriminator
from ganaug.models.generator import Generator
from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.training.checkpoints import restore_rng_state, resumable_state, rng_state, save_checkpoint
from ganaug.training.diffaugment import diff_augment, parse_policy

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss_d", "loss_g", "wasserstein", "gradient_penalty"]


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; training stops rather than write garbage."""


class Preempted(RuntimeError):
    """SIGTERM arrived (how SLURM preempts); a checkpoint was written before stopping."""


@dataclass(frozen=True)
class GanConfig:
    img_size: int  # 32, 64, 128 or 256; the study: 256
    latent_dim: int = 100  # length of the noise vector z
    features_g: int = 16  # generator width: channels are features_g * 2^k
    features_d: int = 16  # critic width: channels are features_d * 2^k
    batch_size: int = 16  # images per critic and generator step
    lr_g: float = 1e-4  # Adam learning rate of the generator
    lr_d: float = 1e-4  # Adam learning rate of the critic
    betas: tuple[float, float] = (0.5, 0.999)  # the study's; the WGAN-GP paper used (0.0, 0.9)
    lambda_gp: float = 10.0  # weight of the gradient penalty
    n_critic: int = 5  # critic updates per generator update
    total_iterations: int = 50_000  # generator updates; training length is counted in these
    checkpoint_interval: int = 5_000  # iterations between checkpoints
    sample_interval: int = 1_000  # iterations between sample grids from fixed noise
    log_interval: int = 100  # iterations between TensorBoard scalars / history rows
    diffaugment: str = ""  # "" (off) or a policy such as "color,translation,cutout"
    bf16: bool = False  # bf16 autocast for the forward passes on CUDA (the penalty stays fp32)
    compile: bool = False  # torch.compile the generator (the critic needs a double backward)
    seed: int = 42

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GAN settings: {sorted(unknown)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    # the settings that change the weights: a checkpoint written with others is another
    # experiment (the intervals and torch.compile change what is logged or how fast, not the result)
    RESUME_KEYS = (
        "img_size", "latent_dim", "features_g", "features_d", "batch_size", "lr_g", "lr_d",
        "betas", "lambda_gp", "n_critic", "diffaugment", "seed",
    )  # fmt: skip

    def resume_settings(self, device: torch.device) -> dict[str, Any]:
        """RESUME_KEYS' values, plus the precision actually used (bf16 only acts on CUDA)."""
        d = asdict(self)
        out = {k: list(d[k]) if isinstance(d[k], tuple) else d[k] for k in self.RESUME_KEYS}
        out["precision"] = "bf16" if self.bf16 and device.type == "cuda" else "fp32"
        return out


@dataclass(frozen=True)
class GanOutputs:
    checkpoint: Path  # last.pt: resumed from when it exists
    generator: Path  # weights only, for sampling
    history: Path  # history.csv
    curves: Path  # training_curves.png
    grid: Path  # samples_grid.png (5 x 5)
    samples_dir: Path  # a grid from fixed noise every sample_interval
    tensorboard: Path  # TensorBoard event files


class EndlessSampler:
    """Batches of indices forever: a new random permutation each pass; the remainder of a pass
    that is smaller than a batch is skipped so every batch has ``batch_size`` distinct images."""

    def __init__(self, n: int, batch_size: int, g: torch.Generator):
        if n < batch_size:
            raise ValueError(
                f"only {n} minority training images for a batch size of {batch_size}: lower "
                "gan.batch_size or add images"
            )
        self.n, self.batch_size, self.g = n, batch_size, g
        self.perm = torch.randperm(n, generator=g)
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.g)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm, self.pos = state["perm"].clone(), int(state["pos"])


def fixed_noise(cfg: GanConfig, n: int = 25) -> torch.Tensor:
    """The grids' noise: its own seed, so it does not move the training stream."""
    return torch.randn(n, cfg.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))


def build_models(cfg: GanConfig) -> tuple[Generator, Discriminator]:
    torch.manual_seed(cfg.seed)  # the initial weights
    return (
        Generator(cfg.latent_dim, 3, cfg.features_g, cfg.img_size),
        Discriminator(3, cfg.features_d, cfg.img_size),
    )


class _SigtermFlag:
    """Turns SIGTERM into a flag the loop checks after each iteration."""

    def __init__(self) -> None:
        self.raised = False
        self._old: Any = None

    def __enter__(self) -> _SigtermFlag:
        with contextlib.suppress(ValueError):  # not in the main thread: no handler
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _to_image(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] float (N, 3, H, W) -> uint8 (N, H, W, 3)."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _save_grid(images: torch.Tensor, path: Path, nrow: int = 5) -> None:
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images.float().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


def train_gan(
    cfg: GanConfig,
    train: MinorityTrainSet,
    out: GanOutputs,
    device: torch.device,
    progress: bool = True,
) -> pd.DataFrame:
    """Train (or resume) to ``cfg.total_iterations``; write every output; return the history."""
    policy = parse_policy(cfg.diffaugment)
    real = train.images.to(device).float().div(127.5).sub(1.0)  # the whole set stays on the device
    training_set = train.fingerprint()
    settings = cfg.resume_settings(device)
    g = torch.Generator().manual_seed(cfg.seed)  # the one stream of training randomness
    sampler = EndlessSampler(len(real), cfg.batch_size, g)
    gen, critic = build_models(cfg)
    gen, critic = gen.to(device), critic.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    history: list[dict[str, float]] = []
    start = 0

    state = resumable_state(out.checkpoint, settings, training_set, cfg.total_iterations)
    if state is not None:
        gen.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        g.set_state(state["rng"])
        sampler.load_state_dict(state["sampler"])
        restore_rng_state(state["global_rng"], device)
        history = list(state["history"])
        start = int(state["iteration"])
        log.info("resumed from %s at iteration %d", out.checkpoint, start)
    else:
        log.info(
            "training from scratch on %d minority images (training set %s)", len(real), training_set["digest"]
        )

    def checkpoint(iteration: int, complete: bool = False) -> None:
        save_checkpoint(
            {
                "iteration": iteration,
                "complete": complete,  # the outputs of this run were written
                "training_set": {**training_set, "ids": list(train.ids)},
                "settings": settings,
                "generator": gen.state_dict(),
                "critic": critic.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng": g.get_state(),
                "sampler": sampler.state_dict(),
                "global_rng": rng_state(device),
                "history": history,
                "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
            },
            out.checkpoint,
        )

    gen_fwd = torch.compile(gen) if cfg.compile else gen

    def autocast() -> torch.autocast:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")

    noise_fixed = fixed_noise(cfg).to(device)
    aug = (lambda x: diff_augment(x, policy, g)) if policy else (lambda x: x)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out.tensorboard), purge_step=start + 1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.total_iterations, initial=start, desc="wgan-gp", unit="it", mininterval=5)
    sums = torch.zeros(4, device=device)
    n_in_window = 0
    last_ckpt = start if state is not None else None

    with _SigtermFlag() as sigterm:
        for it in range(start + 1, cfg.total_iterations + 1):
            gen.train()
            critic.train()
            for _ in range(cfg.n_critic):
                batch = real[sampler.next().to(device)]
                z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=g).to(device)
                with autocast():
                    fake = gen_fwd(z).detach()
                    real_a, fake_a = aug(batch), aug(fake)
                    d_real, d_fake = critic(real_a), critic(fake_a)
                eps = torch.rand(cfg.batch_size, generator=g).to(device)
                gp = gradient_penalty(critic, real_a, fake_a, eps)
                loss_d = critic_loss(d_real, d_fake, gp, cfg.lambda_gp)
                opt_d.zero_grad(set_to_none=True)
                loss_d.total.backward()
                opt_d.step()

            z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=g).to(device)
            critic.requires_grad_(False)  # the generator step needs no critic weight gradients
            with autocast():
                loss_g = generator_loss(critic(aug(gen_fwd(z))))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            critic.requires_grad_(True)

            step = torch.stack([loss_d.total.detach(), loss_g.detach(), loss_d.wasserstein, loss_d.penalty])
            if not bool(torch.isfinite(step).all()):
                where = f"{out.checkpoint} (iteration {last_ckpt})" if last_ckpt is not None else "none"
                writer.close()
                raise NonFiniteLoss(
                    f"non-finite loss at iteration {it} (critic {step[0].item()}, generator "
                    f"{step[1].item()}); last good checkpoint: {where}"
                )
            sums += step
            n_in_window += 1
            if it % cfg.log_interval == 0 or it == cfg.total_iterations:
                mean = (sums / n_in_window).tolist()
                row = {"iteration": it, **dict(zip(HISTORY_COLUMNS[1:], mean, strict=True))}
                history.append(row)
                for k in HISTORY_COLUMNS[1:]:
                    writer.add_scalar(f"gan/{k}", row[k], it)
                sums.zero_()
                n_in_window = 0
                if bar is not None:
                    bar.set_postfix(
                        d=f"{row['loss_d']:.3f}", g=f"{row['loss_g']:.3f}", w=f"{row['wasserstein']:.3f}"
                    )
            if it % cfg.sample_interval == 0:
                grid = _sample(gen, noise_fixed)
                writer.add_images("gan/samples", (grid + 1) / 2, it)
                _save_grid(grid, out.samples_dir / f"iter_{it:06d}.png")
            if bar is not None:
                bar.update(1)
            # the last iteration's checkpoint is written after the outputs, marked complete
            if (it % cfg.checkpoint_interval == 0 and it < cfg.total_iterations) or sigterm.raised:
                checkpoint(it)
                last_ckpt = it
            if sigterm.raised:
                writer.close()
                raise Preempted(f"SIGTERM at iteration {it}: checkpoint written to {out.checkpoint}")

    if bar is not None:
        bar.close()
    writer.close()
    hist = _finish(cfg, gen, history, noise_fixed, out, training_set)
    checkpoint(cfg.total_iterations, complete=True)
    return hist


@torch.no_grad()
def _sample(gen: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    was_training = gen.training
    gen.eval()  # as the sampling rule uses it: BatchNorm with its running statistics
    x = gen(z).float()
    gen.train(was_training)
    return x


def _finish(
    cfg: GanConfig,
    gen: Generator,
    history: list[dict],
    noise: torch.Tensor,
    out: GanOutputs,
    training_set: dict[str, Any],
) -> pd.DataFrame:
    from ganaug.viz import plot_gan_curves

    hist = pd.DataFrame(history, columns=HISTORY_COLUMNS)
    write_csv(hist, out.history)
    plot_gan_curves(hist, out.curves)
    _save_grid(_sample(gen, noise), out.grid)
    hparams = {"latent_dim": cfg.latent_dim, "features_g": cfg.features_g, "img_size": cfg.img_size}
    blob = {"state_dict": gen.state_dict(), "hparams": hparams, "training_set": training_set}
    with atomic_path(out.generator, suffix=".tmp") as tmp:
        torch.save(blob, tmp)
    log.info("generator written to %s after %d iterations", out.generator, cfg.total_iterations)
    return hist


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
    backward, then one generator step), counted by torch's FlopCounterMode on real steps."""
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
