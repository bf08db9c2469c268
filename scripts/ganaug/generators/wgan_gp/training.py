"""WGAN-GP training: the loop, resumable from checkpoints and stoppable by SIGTERM.

One "iteration" is one generator update after ``n_critic`` critic updates (Gulrajani et al.
2017, Algorithm 1). Each critic update draws a fresh real batch from an endless shuffled sampler,
as the reference code does (the study's loop reused one batch for all five critic steps).

Every random number (batches, noise, interpolation weights, DiffAugment) comes from one
``torch.Generator`` whose state is in the checkpoint, so on the CPU a run that is killed and
resumed ends with bit-identical weights and history to one that never stopped (tested). On a
GPU that generator lives on the device, and nothing syncs with the host between history rows
(losses are summed on the device and checked for finiteness once per ``log_interval``).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ganaug.data.provenance import MinorityTrainSet, load_train_minority
from ganaug.generators import loop
from ganaug.generators.cuda_graph import CapturedStep
from ganaug.generators.loop import EndlessSampler, GeneratorOutputs, NonFiniteLoss, save_grid
from ganaug.generators.resume import resumable_state
from ganaug.generators.wgan_gp.config import HPARAM_KEYS, NAME, WganGpConfig
from ganaug.generators.wgan_gp.diffaugment import diff_augment, parse_policy
from ganaug.generators.wgan_gp.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.generators.wgan_gp.networks import Discriminator, Generator
from ganaug.io import write_csv
from ganaug.runtime import autocast, select_device, set_tf32
from ganaug.training.checkpoints import restore_rng_state, rng_state, save_checkpoint
from ganaug.viz import plot_gan_curves

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss_d", "loss_g", "wasserstein", "gradient_penalty"]


def fixed_noise(cfg: WganGpConfig, n: int = 25) -> torch.Tensor:
    """The grids' noise: its own seed, so it does not move the training stream."""
    return torch.randn(n, cfg.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))


def build_models(cfg: WganGpConfig) -> tuple[Generator, Discriminator]:
    torch.manual_seed(cfg.seed)  # the initial weights
    return (
        Generator(cfg.latent_dim, 3, cfg.features_g, cfg.img_size),
        Discriminator(3, cfg.features_d, cfg.img_size),
    )


class _Trainer:
    """The state of one training run: models, optimisers, the random stream, the logged history.

    One ``torch.Generator`` draws every random number of training (batches, noise, interpolation
    weights, DiffAugment): on the CPU, so a run killed and resumed ends bit-identical; on a GPU,
    on the device, so no step waits for a host-to-device copy (a GPU run is reproducible only as
    far as cuDNN's kernels are). Its state is in the checkpoint.
    """

    def __init__(
        self, cfg: WganGpConfig, train: MinorityTrainSet, out: GeneratorOutputs, device: torch.device
    ):
        self.cfg, self.out, self.device, self.ids = cfg, out, device, list(train.ids)
        self.real = train.images.to(device).float().div(127.5).sub(1.0)  # the whole set stays on the device
        self.training_set = train.fingerprint()
        self.settings = cfg.resume_settings(device)
        self.g = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(cfg.seed)
        self.sampler = EndlessSampler(len(self.real), cfg.batch_size, self.g, "gan")
        gen, critic = build_models(cfg)
        self.gen, self.critic = gen.to(device), critic.to(device)
        if device.type == "cuda":
            set_tf32(cfg.tf32)  # part of the result: gan.tf32, recorded in the resume settings
            if cfg.bf16:  # bf16 convolutions are fastest on NHWC tensors
                self.gen = self.gen.to(memory_format=torch.channels_last)
                self.critic = self.critic.to(memory_format=torch.channels_last)
                self.real = self.real.contiguous(memory_format=torch.channels_last)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        # a captured critic step needs Adam's step count on the device (capturable), from the start
        graphed = cfg.cuda_graph and device.type == "cuda"
        self.opt_d = torch.optim.Adam(
            self.critic.parameters(), lr=cfg.lr_d, betas=cfg.betas, capturable=graphed
        )
        self.captured = self._capture() if graphed else None
        self.gen_fwd = torch.compile(self.gen) if cfg.compile else self.gen
        policy = parse_policy(cfg.diffaugment)
        self.aug = (lambda x: diff_augment(x, policy, self.g)) if policy else (lambda x: x)
        self.history: list[dict[str, float]] = []
        self.start, self.last_ckpt = 0, None
        self.window = torch.zeros(4, device=device)  # loss sums since the last history row
        self.n_window = 0

    def resume(self) -> None:
        """Continue from the checkpoint when it belongs to this very experiment (see checkpoints)."""
        cfg = self.cfg
        state = resumable_state(
            self.out.checkpoint,
            self.settings,
            self.training_set,
            cfg.total_iterations,
            NAME,
            "gan",
            "gan.total_iterations",
        )
        if state is None:
            log.info(
                "training from scratch on %d minority images (training set %s)",
                len(self.real),
                self.training_set["digest"],
            )
            return
        for name in ("gen", "critic", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[{"gen": "generator"}.get(name, name)])
        self.g.set_state(state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        restore_rng_state(state["global_rng"], self.device)
        self.history = list(state["history"])
        self.start = self.last_ckpt = int(state["iteration"])
        log.info("resumed from %s at iteration %d", self.out.checkpoint, self.start)

    def _autocast(self):
        return autocast(self.device, self.cfg.bf16)  # the flag decides: the CPU's tests run bf16 too

    def _noise(self) -> torch.Tensor:
        return torch.randn(self.cfg.batch_size, self.cfg.latent_dim, generator=self.g, device=self.g.device)

    def _eps(self) -> torch.Tensor:
        return torch.rand(self.cfg.batch_size, generator=self.g, device=self.g.device).to(self.device)

    def critic_step(self):
        """One critic update on a fresh real batch and a fresh fake batch (the penalty in fp32),
        eager or replayed from its CUDA graph (gan.cuda_graph).

        The generator runs without a graph (the critic step needs none of its gradients), and the
        critic scores real and fake images in one call: its InstanceNorm normalises each image on
        its own, so one batch of 2B gives each image the score two batches of B give it (equal
        forward; gradients equal up to float summation order, tested), in half the launches.
        """
        if self.captured is not None:
            self.stage_critic_inputs()
            return self.captured()
        idx = self.sampler.next().to(self.device)
        return self._critic_update(idx, self._noise().to(self.device), self._eps)

    def _critic_update(self, idx: torch.Tensor, z: torch.Tensor, eps_of):
        """The critic step's arithmetic on the batch ``idx`` and noise ``z``; ``eps_of()`` gives
        the penalty's interpolation weights, drawn after any DiffAugment draws, as always."""
        batch = self.real[idx]
        with self._autocast():
            with torch.no_grad():
                fake = self.gen_fwd(z)
            real_a, fake_a = self.aug(batch), self.aug(fake)
            d_real, d_fake = self.critic(torch.cat([real_a, fake_a])).split(len(batch))
        gp = gradient_penalty(self.critic, real_a, fake_a, eps_of())
        loss = critic_loss(d_real, d_fake, gp, self.cfg.lambda_gp)
        self.opt_d.zero_grad(set_to_none=True)
        loss.total.backward()
        self.opt_d.step()
        return loss

    def _capture(self) -> CapturedStep:
        """The critic step over static inputs, for a CUDA graph (ganaug.generators.cuda_graph)."""
        b = self.cfg.batch_size
        self.static = {
            "idx": torch.zeros(b, dtype=torch.long, device=self.device),
            "z": torch.zeros(b, self.cfg.latent_dim, device=self.device),
            "eps": torch.zeros(b, device=self.device),
        }
        s = self.static
        return CapturedStep(lambda: self._critic_update(s["idx"], s["z"], lambda: s["eps"]))

    def stage_critic_inputs(self) -> None:
        """Refill the captured step's inputs from the training stream, in the eager step's order
        (batch, noise, interpolation weights: no DiffAugment draws in between, by the config's
        rule), so the stream and the checkpointed generator state are the eager run's. What the
        host dispatches a captured step: these few ops and one graph launch."""
        s = self.static
        s["idx"].copy_(self.sampler.next())
        torch.randn(s["z"].shape, generator=self.g, out=s["z"])
        torch.rand(s["eps"].shape, generator=self.g, out=s["eps"])

    def generator_step(self) -> torch.Tensor:
        z = self._noise().to(self.device)
        self.critic.requires_grad_(False)  # the generator step needs no critic weight gradients
        with self._autocast():
            loss = generator_loss(self.critic(self.aug(self.gen_fwd(z))))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.critic.requires_grad_(True)
        return loss

    def accumulate(self, loss_d, loss_g: torch.Tensor) -> None:
        # summed on the device: nothing waits for the GPU until a history row is written
        self.window += torch.stack(
            [loss_d.total.detach(), loss_g.detach(), loss_d.wasserstein, loss_d.penalty]
        )
        self.n_window += 1

    def check_finite(self, it: int) -> None:
        """Stop on a NaN or infinite loss in the current window (one host sync), naming the last
        good checkpoint; never checkpoint non-finite weights."""
        if bool(torch.isfinite(self.window).all()):
            return
        where = (
            f"{self.out.checkpoint} (iteration {self.last_ckpt})" if self.last_ckpt is not None else "none"
        )
        first = it - self.n_window + 1
        span = f"iteration {it}" if first == it else f"iterations {first}-{it}"
        raise NonFiniteLoss(
            f"non-finite loss at {span} (window sums: critic {self.window[0].item()}, "
            f"generator {self.window[1].item()}); last good checkpoint: {where}"
        )

    def history_row(self, it: int) -> dict[str, float]:
        """Close the window: the mean of each loss since the last row (checked finite first)."""
        self.check_finite(it)
        row = {
            "iteration": it,
            **dict(zip(HISTORY_COLUMNS[1:], (self.window / self.n_window).tolist(), strict=True)),
        }
        self.history.append(row)
        self.window.zero_()
        self.n_window = 0
        return row

    def checkpoint(self, iteration: int, complete: bool = False) -> None:
        self.check_finite(iteration)
        cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()}
        save_checkpoint(
            {
                "family": NAME,  # ganaug.generators.resume: another family's file is moved aside
                "iteration": iteration,
                "complete": complete,  # the outputs of this run were written
                "training_set": {**self.training_set, "ids": self.ids},
                "settings": self.settings,
                "generator": self.gen.state_dict(),
                "critic": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "rng": self.g.get_state(),
                "sampler": self.sampler.state_dict(),
                "global_rng": rng_state(self.device),
                "history": self.history,
                "config": cfg,
            },
            self.out.checkpoint,
        )
        self.last_ckpt = iteration

    def session(self):
        """The TensorBoard writer, open for the whole loop (after a fresh run's files are cleared)."""
        from torch.utils.tensorboard import SummaryWriter

        self.noise_fixed = fixed_noise(self.cfg).to(self.device)
        self.writer = SummaryWriter(str(self.out.tensorboard), purge_step=self.start + 1)
        return contextlib.closing(self.writer)

    def advance(self, it: int) -> dict[str, str] | None:
        """One iteration: n_critic critic updates, each on a fresh real batch, then one generator
        update (Gulrajani et al. 2017, Algorithm 1); a history row every log_interval (the only
        regular wait for the GPU) and a grid from fixed noise every sample_interval."""
        cfg = self.cfg
        self.gen.train()
        self.critic.train()
        for _ in range(cfg.n_critic):
            loss_d = self.critic_step()
        loss_g = self.generator_step()
        self.accumulate(loss_d, loss_g)
        postfix = None
        if it % cfg.log_interval == 0 or it == cfg.total_iterations:
            row = self.history_row(it)
            for k in HISTORY_COLUMNS[1:]:
                self.writer.add_scalar(f"gan/{k}", row[k], it)
            postfix = {
                "d": f"{row['loss_d']:.3f}",
                "g": f"{row['loss_g']:.3f}",
                "w": f"{row['wasserstein']:.3f}",
            }
        if it % cfg.sample_interval == 0:
            grid = _sample(self.gen, self.noise_fixed)
            self.writer.add_images("gan/samples", (grid + 1) / 2, it)
            save_grid(grid, self.out.samples_dir / f"iter_{it:06d}.png")
        return postfix

    def generator_blob(self, it: int) -> dict[str, Any]:
        """What generator.pt holds: the generator's weights (with its BatchNorm statistics)."""
        hparams = {k: getattr(self.cfg, k) for k in HPARAM_KEYS}
        state = {k: v.detach().cpu().clone() for k, v in self.gen.state_dict().items()}
        return {
            "family": NAME,
            "state_dict": state,
            "hparams": hparams,
            "training_set": self.training_set,
            "iteration": it,
        }

    def finish(self) -> pd.DataFrame:
        return _finish(self, self.out)


def train_gan(
    cfg: WganGpConfig,
    train: MinorityTrainSet,
    out: GeneratorOutputs,
    device: torch.device,
    progress: bool = True,
) -> pd.DataFrame:
    """Train (or resume) to ``cfg.total_iterations``; write every output; return the history."""
    return loop.run(_Trainer(cfg, train, out, device), cfg.total_iterations, "wgan-gp", "iteration", progress)


@torch.no_grad()
def _sample(gen: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    was_training = gen.training
    gen.eval()  # as the sampling rule uses it: BatchNorm with its running statistics
    x = gen(z).float()
    gen.train(was_training)
    return x


def _finish(t: _Trainer, out: GeneratorOutputs) -> pd.DataFrame:
    cfg = t.cfg
    hist = pd.DataFrame(t.history, columns=HISTORY_COLUMNS)
    write_csv(hist, out.history)
    plot_gan_curves(hist, out.curves)
    save_grid(_sample(t.gen, t.noise_fixed), out.grid)
    loop.progress_montage(out, "iteration")
    save_checkpoint(t.generator_blob(cfg.total_iterations), out.generator)
    log.info("generator written to %s after %d iterations", out.generator, cfg.total_iterations)
    return hist


def train_rule(
    metadata, params, section, outputs: GeneratorOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_gan: its params and the gan section's watch keys (WganGpConfig.for_training)."""
    return train_from_metadata(metadata, WganGpConfig.for_training(params, section), outputs, device, threads)


def train_from_metadata(
    metadata: str | Path, cfg: WganGpConfig, out: GeneratorOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_gan: the train-split minority images of ``metadata``, then :func:`train_gan`."""
    torch.set_num_threads(threads)
    return train_gan(cfg, load_train_minority(metadata, cfg.img_size), out, select_device(device, cfg.tf32))
