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

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.data.provenance import MinorityTrainSet, fingerprint
from ganaug.io import clear_event_files, write_csv
from ganaug.runtime import autocast, set_tf32
from ganaug.settings import DDPM_NAME as NAME
from ganaug.settings import DDPM_SCHEDULE_KEYS as SCHEDULE_KEYS
from ganaug.settings import DDPM_SHAPE_KEYS as SHAPE_KEYS
from ganaug.settings import DdpmConfig, as_dict
from ganaug.training.checkpoints import restore_rng_state, resumable_state, rng_state, save_checkpoint
from ganaug.training.gan import EndlessSampler, GanOutputs, NonFiniteLoss, Preempted, _save_grid, _SigtermFlag

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "loss", "lr"]
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


def _schedule(cls_name: str, cfg: dict[str, Any]):
    import diffusers

    return getattr(diffusers, cls_name)(
        num_train_timesteps=cfg["train_timesteps"],
        beta_schedule=cfg["beta_schedule"],
        prediction_type=cfg["prediction_type"],
        clip_sample=True,
    )


def _target(sched, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(x0, noise, t)


@torch.no_grad()
def ddim_sample(unet, noise: torch.Tensor, steps: int, schedule: dict[str, Any], labels=None) -> torch.Tensor:
    """DDIM (eta = 0) from the initial ``noise``: images in [-1, 1]."""
    sched = _schedule("DDIMScheduler", schedule)
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
    """x_T of each image, from the image's own seed (the WGAN-GP's latent_seed)."""
    from ganaug.training.sample import latent_seed

    return torch.stack(
        [
            torch.randn(3, size, size, generator=torch.Generator().manual_seed(latent_seed(seed, i)))
            for i in indices
        ]
    )


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
    def __init__(self, cfg: DdpmConfig, train: TrainSet, out: GanOutputs, device: torch.device):
        from ganaug.training.ema import BatchedEma

        self.cfg, self.out, self.device = cfg, out, device
        images, labels = train.tensors()
        self.real = images.to(device).float().div(127.5).sub(1.0)
        self.labels = labels.to(device) if cfg.conditional else None
        self.training_set = train.fingerprint()
        self.minority_set = train.minority.fingerprint()
        self.settings = cfg.resume_settings(device)
        self.g = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(cfg.seed)
        self.sampler = EndlessSampler(len(self.real), cfg.batch_size, self.g)
        self.unet = build_unet(cfg.shape(), cfg.seed).to(device)
        if device.type == "cuda":
            set_tf32(cfg.tf32)
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = max(1, cfg.warmup_steps)
        self.lr_sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))
        # EMAModel's decay, warm-up and state, its update in three multi-tensor ops (bit-identical)
        self.ema = BatchedEma(self.unet.parameters(), decay=cfg.ema_decay, use_ema_warmup=True)
        self.ema.to(device)
        self.sched = _schedule("DDPMScheduler", as_dict(cfg))
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
            family=NAME,
            length_key="ddpm.total_steps",
        )
        if state is None:
            log.info("ddpm: training from scratch on %d images (training set %s)", len(self.real),
                     self.training_set["digest"])  # fmt: skip
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
        loss = torch.nn.functional.mse_loss(pred.float(), _target(self.sched, x0, noise, t))
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


def train(
    cfg: DdpmConfig, data: TrainSet, out: GanOutputs, device: torch.device, progress: bool = True
) -> pd.DataFrame:
    """Train (or resume) to ``cfg.total_steps``; write every output; return the history."""
    from tqdm import tqdm

    t = _Trainer(cfg, data, out, device)
    t.resume()
    if t.start == 0:
        clear_event_files(out.tensorboard)
    bar = tqdm(total=cfg.total_steps, initial=t.start, desc="ddpm", unit="step", mininterval=5,
               disable=not progress)  # fmt: skip
    with _SigtermFlag() as sigterm, bar:
        for it in range(t.start + 1, cfg.total_steps + 1):
            t.unet.train()
            t.step()
            if it % cfg.log_interval == 0 or it == cfg.total_steps:
                bar.set_postfix(loss=f"{t.history_row(it)['loss']:.4f}")
            if it % cfg.sample_interval == 0 and it < cfg.total_steps:
                _save_grid(t.grid(), out.samples_dir / f"iter_{it:06d}.png", nrow=4)
            bar.update(1)
            if it % cfg.checkpoint_interval == 0 or it == cfg.total_steps or sigterm.raised:
                t.checkpoint(it)
            if sigterm.raised:
                raise Preempted(f"SIGTERM at step {it}: checkpoint written to {out.checkpoint}")
        hist = _finish(t, out)
        if sigterm.raised:
            raise Preempted(
                f"SIGTERM while the outputs were written: they were finished first; the checkpoint "
                f"{out.checkpoint} at step {cfg.total_steps} lets a rerun rewrite them without training"
            )
        t.checkpoint(cfg.total_steps, complete=True)
    return hist


def _finish(t: _Trainer, out: GanOutputs) -> pd.DataFrame:
    from ganaug.viz import montage, plot_diffusion_curves

    cfg = t.cfg
    hist = pd.DataFrame(t.history, columns=HISTORY_COLUMNS)
    write_csv(hist, out.history)
    plot_diffusion_curves(hist, out.curves)
    _save_grid(t.grid(), out.grid, nrow=4)
    if out.progress is not None:
        grids = sorted(out.samples_dir.glob("iter_*.png"))
        montage(grids, [g.stem.replace("iter_", "step ").lstrip("0") for g in grids], out.progress)
    net = t.ema_unet()
    blob = {
        "family": NAME,
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
        "hparams": cfg.shape(),
        "schedule": {k: getattr(cfg, k) for k in SCHEDULE_KEYS},
        # what curation and the fits check: the minority images, conditional or not
        "training_set": t.minority_set,
        "conditioning_set": t.training_set if cfg.conditional else None,
    }
    save_checkpoint(blob, out.generator)
    log.info("ddpm: EMA weights written to %s after %d steps", out.generator, cfg.total_steps)
    return hist


def load(path: str | Path, device: torch.device, expected: dict[str, Any] | None = None):
    """(the EMA network in eval mode, the file's blob) from a DDPM ``generator.pt``."""
    from ganaug.training.sample import GeneratorMismatch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise GeneratorMismatch(f"{path}: not a generator file this workflow wrote ({err})") from None
    if not isinstance(blob, dict) or blob.get("family") != NAME:
        found = blob.get("family", "wgan_gp") if isinstance(blob, dict) else type(blob).__name__
        raise GeneratorMismatch(
            f"{path}: a {found} generator, not a {NAME} one; retrain it (--forcerun train_generator)"
        )
    if expected is not None:
        want = {k: expected[k] for k in (*SHAPE_KEYS, *SCHEDULE_KEYS)}
        have = {**blob["hparams"], **blob["schedule"]}
        diff = [
            f"{k} {have.get(k)} (the config: {v})"
            for k, v in want.items()
            if _plain(have.get(k)) != _plain(v)
        ]
        if diff:
            raise GeneratorMismatch(
                f"{path} is a DDPM of another shape or schedule: {', '.join(diff)}. Retrain it "
                "(snakemake --forcerun train_generator) or set the ddpm section to the file's values"
            )
    net = build_unet(blob["hparams"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), blob


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list) else v


def generate(net, blob: dict, indices: list[int], seed: int, steps: int, device: torch.device) -> np.ndarray:
    """uint8 (len(indices), H, W, 3) RGB images of the minority class."""
    size = blob["hparams"]["img_size"]
    noise = initial_noise(seed, indices, size).to(device)
    labels = torch.full((len(indices),), MINORITY, device=device) if blob["hparams"]["conditional"] else None
    x = ddim_sample(net, noise, steps, blob["schedule"], labels).float()
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


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


def train_from_metadata(
    metadata: str | Path, cfg: DdpmConfig, out: GanOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The rule train_generator for the DDPM: the train-split minority images of ``metadata`` (and,
    conditional, its majority images), selected before any image is opened, then :func:`train`."""
    from ganaug.data.datasets import decode_cache
    from ganaug.data.metadata import split_majority
    from ganaug.data.provenance import load_train_minority
    from ganaug.runtime import select_device

    torch.set_num_threads(threads)
    majority = None
    if cfg.conditional:
        rows = split_majority(metadata, "train")
        majority = MinorityTrainSet(
            rows["image_id"].tolist(), decode_cache(rows["path"].tolist(), cfg.img_size, True)
        )
    data = TrainSet(load_train_minority(metadata, cfg.img_size), majority)
    return train(cfg, data, out, select_device(device, cfg.tf32))


def sample_rule(
    generator: str | Path, out_dir: str | Path, manifest: str | Path, params: dict, device: str, threads: int
) -> pd.DataFrame:
    """The rule sample_generator for the DDPM: ``params`` are the DdpmConfig's sampling params, which the
    file's shape and schedule must match."""
    from ganaug.runtime import select_device
    from ganaug.training.sample import write_samples

    torch.set_num_threads(threads)
    dev = select_device(device, params["tf32"])
    net, blob = load(generator, dev, params)
    return write_samples(
        lambda idx: generate(net, blob, idx, params["seed"], params["sampling_steps"], dev),
        out_dir,
        manifest,
        params["n_samples"],
        params["seed"],
        params["sample_batch_size"],
        blob.get("training_set") or {},
    )
