"""The DDPM family: a pixel-space denoising diffusion model (Ho et al. 2020) trained from scratch
on one repeat's train-split minority images, sampled with DDIM (Song et al. 2021).

diffusers provides the network and the schedules (``UNet2DModel``, ``DDPMScheduler``,
``DDIMScheduler``, ``training_utils.EMAModel``); the loop, the checkpoint and the resume rule are
this workflow's, the same as the WGAN-GP's (``ganaug.training.checkpoints``):

- one ``torch.Generator`` draws every random number of training (batches, flips, noise,
  timesteps), and its state, the optimiser's, the learning-rate schedule's and the EMA's shadow
  weights are all in the checkpoint, so on the CPU a run killed (SIGKILL) or stopped (SIGTERM)
  and resumed ends bit-identical to one that never stopped (tested; diffusers itself lost the
  EMA on resume before its fix, huggingface/diffusers#9764);
- the checkpoint records its family, its training set and the settings that change the result,
  and one of another family, split or settings is moved aside, never resumed;
- ``generator.pt`` holds the EMA weights (what is sampled), the network's shape and the
  training-set fingerprint that curation and the fits check.

Sampling: image i starts from noise drawn from its own seed (``SeedSequence([seed, i])``, as the
WGAN-GP's latent vectors), and DDIM with eta = 0 is deterministic from there, so an image depends
only on its index (GroupNorm and attention act per image), up to the float rounding of a batched
convolution: at most one grey level between batch sizes on the CPU (tested).

``conditional: true`` trains one model on the train split's minority *and* majority images with
a class embedding (it sees the skin of thousands of nevi), and samples the minority class only.
The fingerprint downstream stages check stays the minority images'; the checkpoint's covers both.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.data.datasets import decode_cache
from ganaug.data.metadata import split_majority
from ganaug.data.provenance import MinorityTrainSet, fingerprint, load_train_minority
from ganaug.dataclass_io import as_dict
from ganaug.generators import loop
from ganaug.generators.ddpm.config import NAME, SCHEDULE_KEYS, DdpmConfig
from ganaug.generators.ddpm.networks import (
    MAJORITY,
    MINORITY,
    build_unet,
    ddim_sample,
    initial_noise,
    schedule,
    target,
)
from ganaug.generators.loop import EndlessSampler, GeneratorOutputs, NonFiniteLoss, save_grid
from ganaug.generators.resume import resumable_state
from ganaug.io import write_csv
from ganaug.runtime import autocast, select_device, set_tf32
from ganaug.training.checkpoints import restore_rng_state, rng_state, save_checkpoint
from ganaug.viz import plot_diffusion_curves

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss", "lr"]


@dataclass(frozen=True)
class TrainSet:
    """What the DDPM learns from: the minority images (always), and the majority ones when
    conditional; ``minority`` is what downstream stages check the synthetic sets against."""

    minority: MinorityTrainSet
    majority: MinorityTrainSet | None = None

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [(self.minority.images, MINORITY)]
        if self.majority is not None:
            parts.append((self.majority.images, MAJORITY))
        images = torch.cat([p[0] for p in parts])
        labels = torch.cat([torch.full((len(p[0]),), p[1], dtype=torch.long) for p in parts])
        return images, labels

    def fingerprint(self) -> dict[str, Any]:
        """The minority set's fingerprint, or (conditional) one of both sets' ids and pixels."""
        if self.majority is None:
            return self.minority.fingerprint()
        ids = [f"{MINORITY}:{i}" for i in self.minority.ids] + [f"{MAJORITY}:{i}" for i in self.majority.ids]
        order = np.argsort(ids, kind="stable")
        images = torch.cat([self.minority.images, self.majority.images]).numpy()[order]
        return fingerprint(sorted(ids), np.ascontiguousarray(images))


class _Trainer:
    def __init__(self, cfg: DdpmConfig, train: TrainSet, out: GeneratorOutputs, device: torch.device):
        from ganaug.generators.ddpm.ema import BatchedEma  # diffusers' EMA: only once a DDPM trains

        self.cfg, self.out, self.device = cfg, out, device
        images, labels = train.tensors()
        self.real = images.to(device).float().div(127.5).sub(1.0)
        self.labels = labels.to(device) if cfg.conditional else None
        self.training_set = train.fingerprint()
        self.minority_set = train.minority.fingerprint()
        self.settings = cfg.resume_settings(device)
        self.g = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(cfg.seed)
        self.sampler = EndlessSampler(len(self.real), cfg.batch_size, self.g, "ddpm")
        self.unet = build_unet(cfg.shape(), cfg.seed).to(device)
        if device.type == "cuda":
            set_tf32(cfg.tf32)
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = max(1, cfg.warmup_steps)
        self.lr_sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))
        # EMAModel's decay, warm-up and state, its update in three multi-tensor ops (bit-identical)
        self.ema = BatchedEma(self.unet.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
        self.ema.to(device)
        self.sched = schedule("DDPMScheduler", as_dict(cfg))
        self.history: list[dict[str, float]] = []
        self.start, self.last_ckpt = 0, None
        self.window = torch.zeros(1, device=device)
        self.n_window = 0

    def resume(self) -> None:
        state = resumable_state(
            self.out.checkpoint,
            self.settings,
            self.training_set,
            self.cfg.total_steps,
            NAME,
            "ddpm",
            "ddpm.total_steps",
        )
        if state is None:
            n, digest = len(self.real), self.training_set["digest"]
            log.info("ddpm: training from scratch on %d images (training set %s)", n, digest)
            return
        self.unet.load_state_dict(state["unet"])
        self.opt.load_state_dict(state["opt"])
        self.lr_sched.load_state_dict(state["lr_sched"])
        self.ema.load_state_dict(state["ema"])
        self.ema.to(self.device)
        self.g.set_state(state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        restore_rng_state(state["global_rng"], self.device)
        self.history = list(state["history"])
        self.start = self.last_ckpt = int(state["iteration"])
        log.info("ddpm: resumed from %s at step %d", self.out.checkpoint, self.start)

    def step(self) -> None:
        cfg, g = self.cfg, self.g
        idx = self.sampler.next().to(self.device)
        x0 = self.real[idx]
        if cfg.hflip:
            flip = (torch.rand(len(idx), generator=g, device=g.device) < 0.5).to(self.device)
            x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
        noise = torch.randn(x0.shape, generator=g, device=g.device).to(self.device)
        t = torch.randint(0, cfg.train_timesteps, (len(idx),), generator=g, device=g.device).to(self.device)
        xt = self.sched.add_noise(x0, noise, t)
        labels = None if self.labels is None else self.labels[idx]
        with autocast(self.device, cfg.bf16):  # the flag decides: the CPU's tests run the same flow
            pred = self.unet(xt, t, class_labels=labels).sample
        loss = torch.nn.functional.mse_loss(pred.float(), target(self.sched, x0, noise, t))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        self.opt.step()
        self.lr_sched.step()
        self.ema.step(self.unet.parameters())
        self.window += loss.detach()
        self.n_window += 1

    def history_row(self, it: int) -> dict[str, float]:
        if not bool(torch.isfinite(self.window).all()):
            where = f"{self.out.checkpoint} (step {self.last_ckpt})" if self.last_ckpt is not None else "none"
            raise NonFiniteLoss(f"ddpm: non-finite loss by step {it}; last good checkpoint: {where}")
        row = {
            "iteration": it,
            "loss": (self.window / self.n_window).item(),
            "lr": self.opt.param_groups[0]["lr"],
        }
        self.history.append(row)
        self.window.zero_()
        self.n_window = 0
        return row

    def checkpoint(self, iteration: int, complete: bool = False) -> None:
        if not bool(torch.isfinite(self.window).all()):
            raise NonFiniteLoss(f"ddpm: non-finite loss by step {iteration}: no checkpoint written")
        save_checkpoint(
            {
                "family": NAME,
                "iteration": iteration,
                "complete": complete,
                "training_set": self.training_set,
                "settings": self.settings,
                "unet": self.unet.state_dict(),
                "opt": self.opt.state_dict(),
                "lr_sched": self.lr_sched.state_dict(),
                "ema": self.ema.state_dict(),
                "rng": self.g.get_state(),
                "sampler": self.sampler.state_dict(),
                "global_rng": rng_state(self.device),
                "history": self.history,
                "config": as_dict(self.cfg),
            },
            self.out.checkpoint,
        )
        self.last_ckpt = iteration

    def ema_unet(self):
        """A copy of the network with the EMA weights (what is sampled and written)."""
        net = build_unet(self.cfg.shape()).to(self.device)
        net.load_state_dict(self.unet.state_dict())
        self.ema.copy_to(net.parameters())
        return net.eval()

    def grid(self, n: int = 16) -> torch.Tensor:
        labels = torch.full((n,), MINORITY, device=self.device) if self.cfg.conditional else None
        noise = initial_noise(self.cfg.seed + 1, list(range(n)), self.cfg.img_size).to(self.device)
        return ddim_sample(self.ema_unet(), noise, self.cfg.sampling_steps, as_dict(self.cfg), labels)

    def session(self):
        return contextlib.nullcontext()  # nothing held open: the history is written at the end

    def advance(self, it: int) -> dict[str, str] | None:
        """One step; a history row every log_interval; a grid every sample_interval (the last
        step's is the final grid)."""
        cfg = self.cfg
        self.unet.train()
        self.step()
        postfix = None
        if it % cfg.log_interval == 0 or it == cfg.total_steps:
            postfix = {"loss": f"{self.history_row(it)['loss']:.4f}"}
        if it % cfg.sample_interval == 0 and it < cfg.total_steps:
            save_grid(self.grid(), self.out.samples_dir / f"iter_{it:06d}.png", nrow=4)
        return postfix

    def generator_blob(self, it: int) -> dict:
        """What generator.pt holds: the EMA weights, the network's shape and the schedule."""
        cfg = self.cfg
        return {
            "family": NAME,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.ema_unet().state_dict().items()},
            "hparams": cfg.shape(),
            "schedule": {k: getattr(cfg, k) for k in SCHEDULE_KEYS},
            # what curation and the fits check: the minority images, conditional or not
            "training_set": self.minority_set,
            "conditioning_set": self.training_set if cfg.conditional else None,
            "step": it,
        }

    def finish(self) -> pd.DataFrame:
        return _finish(self, self.out)


def train(
    cfg: DdpmConfig, data: TrainSet, out: GeneratorOutputs, device: torch.device, progress: bool = True
) -> pd.DataFrame:
    """Train (or resume) to ``cfg.total_steps``; write every output; return the history."""
    return loop.run(_Trainer(cfg, data, out, device), cfg.total_steps, "ddpm", "step", progress)


def _finish(t: _Trainer, out: GeneratorOutputs) -> pd.DataFrame:
    cfg = t.cfg
    hist = pd.DataFrame(t.history, columns=HISTORY_COLUMNS)
    write_csv(hist, out.history)
    plot_diffusion_curves(hist, out.curves)
    save_grid(t.grid(), out.grid, nrow=4)
    loop.progress_montage(out, "step")
    save_checkpoint(t.generator_blob(cfg.total_steps), out.generator)
    log.info("ddpm: EMA weights written to %s after %d steps", out.generator, cfg.total_steps)
    return hist


def train_rule(
    metadata, params, section, outputs: GeneratorOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_generator for the DDPM: its params and the section's watch keys."""
    return train_from_metadata(metadata, DdpmConfig.for_training(params, section), outputs, device, threads)


def train_from_metadata(
    metadata: str | Path, cfg: DdpmConfig, out: GeneratorOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_generator for the DDPM: the train-split minority images of ``metadata`` (and,
    conditional, its majority images), selected before any image is opened, then :func:`train`."""
    torch.set_num_threads(threads)
    majority = None
    if cfg.conditional:
        rows = split_majority(metadata, "train")
        majority = MinorityTrainSet(
            rows["image_id"].tolist(), decode_cache(rows["path"].tolist(), cfg.img_size, True)
        )
    data = TrainSet(load_train_minority(metadata, cfg.img_size), majority)
    return train(cfg, data, out, select_device(device, cfg.tf32))
