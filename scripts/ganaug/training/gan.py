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
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ganaug.data.provenance import MinorityTrainSet
from ganaug.io import atomic_path, clear_event_files, write_csv
from ganaug.models.discriminator import Discriminator
from ganaug.models.generator import Generator
from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.runtime import autocast, set_tf32
from ganaug.settings import HPARAM_KEYS, GanConfig
from ganaug.training.checkpoints import restore_rng_state, resumable_state, rng_state, save_checkpoint
from ganaug.training.cuda_graph import CapturedStep
from ganaug.training.diffaugment import diff_augment, parse_policy

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss_d", "loss_g", "wasserstein", "gradient_penalty"]


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; training stops rather than write garbage."""


class Preempted(RuntimeError):
    """SIGTERM arrived (how SLURM preempts); a checkpoint was written before stopping."""


@dataclass(frozen=True)
class GanOutputs:
    checkpoint: Path  # last.pt: resumed from when it exists
    generator: Path  # weights only, for sampling
    history: Path  # history.csv
    curves: Path  # training_curves.png
    grid: Path  # samples_grid.png (5 x 5)
    samples_dir: Path  # a grid from fixed noise every sample_interval
    tensorboard: Path  # TensorBoard event files
    progress: Path | None = None  # the grids of samples_dir side by side: training at a glance

    @classmethod
    def of(cls, *paths: str | Path | None) -> GanOutputs:
        return cls(*(None if p is None else Path(p) for p in paths))

    @classmethod
    def in_folder(cls, root: str | Path) -> GanOutputs:
        """Every output under one folder (benchmarks, checks): a trainer that never writes gets
        one that does not exist."""
        names = ("last.pt", "generator.pt", "history.csv", "curves.png", "grid.png", "samples", "tensorboard")
        return cls(*(Path(root) / n for n in names))


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
        self.perm = torch.randperm(n, generator=g, device=g.device)  # on the generator's device
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.g, device=self.g.device)
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


def _save_grid(images: torch.Tensor, path: Path, nrow: int = 5) -> None:
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images.float().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


class _Trainer:
    """The state of one training run: models, optimisers, the random stream, the logged history.

    One ``torch.Generator`` draws every random number of training (batches, noise, interpolation
    weights, DiffAugment): on the CPU, so a run killed and resumed ends bit-identical; on a GPU,
    on the device, so no step waits for a host-to-device copy (a GPU run is reproducible only as
    far as cuDNN's kernels are). Its state is in the checkpoint.
    """

    def __init__(self, cfg: GanConfig, train: MinorityTrainSet, out: GanOutputs, device: torch.device):
        self.cfg, self.out, self.device, self.ids = cfg, out, device, list(train.ids)
        self.real = train.images.to(device).float().div(127.5).sub(1.0)  # the whole set stays on the device
        self.training_set = train.fingerprint()
        self.settings = cfg.resume_settings(device)
        self.g = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(cfg.seed)
        self.sampler = EndlessSampler(len(self.real), cfg.batch_size, self.g)
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
        state = resumable_state(
            self.out.checkpoint, self.settings, self.training_set, self.cfg.total_iterations
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
        """The critic step over static inputs, for a CUDA graph (ganaug.training.cuda_graph)."""
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
                "family": "wgan_gp",  # ganaug.generators: another family's file is moved aside
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


def train_gan(
    cfg: GanConfig, train: MinorityTrainSet, out: GanOutputs, device: torch.device, progress: bool = True
) -> pd.DataFrame:
    """Train (or resume) to ``cfg.total_iterations``; write every output; return the history."""
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    t = _Trainer(cfg, train, out, device)
    t.resume()
    if t.start == 0:  # a fresh run: the curves of an earlier one would be drawn beside its own
        clear_event_files(out.tensorboard)
    noise_fixed = fixed_noise(cfg).to(device)
    writer = SummaryWriter(str(out.tensorboard), purge_step=t.start + 1)
    bar = tqdm(total=cfg.total_iterations, initial=t.start, desc="wgan-gp", unit="it", mininterval=5,
               disable=not progress)  # fmt: skip
    with _SigtermFlag() as sigterm, contextlib.closing(writer), bar:
        for it in range(t.start + 1, cfg.total_iterations + 1):
            t.gen.train()
            t.critic.train()
            # n_critic critic updates, each on a fresh real batch (Gulrajani et al. 2017, Algorithm 1)
            for _ in range(cfg.n_critic):
                loss_d = t.critic_step()
            # then one generator update
            loss_g = t.generator_step()
            t.accumulate(loss_d, loss_g)
            # a history row every log_interval: the only regular wait for the GPU
            if it % cfg.log_interval == 0 or it == cfg.total_iterations:
                row = t.history_row(it)
                for k in HISTORY_COLUMNS[1:]:
                    writer.add_scalar(f"gan/{k}", row[k], it)
                bar.set_postfix(
                    d=f"{row['loss_d']:.3f}", g=f"{row['loss_g']:.3f}", w=f"{row['wasserstein']:.3f}"
                )
            if it % cfg.sample_interval == 0:
                grid = _sample(t.gen, noise_fixed)
                writer.add_images("gan/samples", (grid + 1) / 2, it)
                _save_grid(grid, out.samples_dir / f"iter_{it:06d}.png")
            bar.update(1)
            # the last iteration is checkpointed too, unfinished: a signal or a kill while the
            # outputs are written then loses no training (the rerun resumes there and only writes)
            if it % cfg.checkpoint_interval == 0 or it == cfg.total_iterations or sigterm.raised:
                t.checkpoint(it)
            if sigterm.raised:
                raise Preempted(f"SIGTERM at iteration {it}: checkpoint written to {out.checkpoint}")
        # still under the handler: a SIGTERM now waits until every output is written. The job
        # then still fails (the executor asked it to stop, and may count it failed and remove
        # its outputs anyway), with the checkpoint at the last iteration left unfinished: the
        # rerun resumes there and only writes the outputs again, it does not retrain
        hist = _finish(cfg, t.gen, t.history, noise_fixed, out, t.training_set)
        if sigterm.raised:
            raise Preempted(
                f"SIGTERM while the outputs were written: they were finished first; the checkpoint "
                f"{out.checkpoint} at iteration {cfg.total_iterations} lets a rerun rewrite them "
                "without training"
            )
        t.checkpoint(cfg.total_iterations, complete=True)
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
    if out.progress is not None:
        from ganaug.viz import montage

        grids = sorted(out.samples_dir.glob("iter_*.png"))
        montage(grids, [g.stem.replace("iter_", "iteration ").lstrip("0") for g in grids], out.progress)
    hparams = {k: getattr(cfg, k) for k in HPARAM_KEYS}
    blob = {"state_dict": gen.state_dict(), "hparams": hparams, "training_set": training_set}
    save_checkpoint(blob, out.generator)
    log.info("generator written to %s after %d iterations", out.generator, cfg.total_iterations)
    return hist


def train_from_metadata(
    metadata: str | Path, cfg: GanConfig, out: GanOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_gan: the train-split minority images of ``metadata``, then :func:`train_gan`."""
    from ganaug.data.provenance import load_train_minority
    from ganaug.runtime import select_device

    torch.set_num_threads(threads)
    return train_gan(cfg, load_train_minority(metadata, cfg.img_size), out, select_device(device, cfg.tf32))
