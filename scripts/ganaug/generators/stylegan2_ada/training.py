"""Training StyleGAN2-ADA on one repeat's train-split minority images, as the ADA paper's code
trains it (Karras et al. 2020, appendix B), in this workflow's loop (``ganaug.generators.loop``).

One minibatch (an "iteration") runs the official code's phases in its order:

1. the generator's main step: latents (two mixed at a random layer with probability
   ``style_mixing``), images with fresh noise, the non-saturating loss on D(augment(images));
2. every ``g_reg_interval``: the path-length regulariser on half a batch (``pl_weight`` > 0);
3. the discriminator's main step on augmented generated and real images; each real logit's sign
   is summed for ADA's r_t;
4. every ``d_reg_interval``: R1 on the same real images (through the augmentation);
5. the generator's weight EMA (half-life ``ema_kimg`` thousand images, optionally ramped);
6. every ``ada_interval``: p moved towards r_t = ``ada_target`` (``augment.adjust_p``).

One ``torch.Generator`` draws every random number (batches, latents, mixing, noise, the
augmentations); it, both optimisers, the EMA generator, p and the regularisers' running state are
in the checkpoint, so a run stopped and resumed ends bit-identical on the CPU to one that never
stopped (the family tests). ``generator.pt`` holds the EMA generator (what is sampled), its shape,
the final p and the training-set fingerprint curation and the fits check.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from pathlib import Path

import pandas as pd
import torch

from ganaug.data.provenance import MinorityTrainSet, load_train_minority
from ganaug.dataclass_io import as_dict
from ganaug.generators import loop
from ganaug.generators.loop import EndlessSampler, GeneratorOutputs, NonFiniteLoss, save_grid
from ganaug.generators.resume import resumable_state
from ganaug.generators.stylegan2_ada import losses
from ganaug.generators.stylegan2_ada.augment import adjust_p, augment
from ganaug.generators.stylegan2_ada.config import NAME, StyleGan2AdaConfig
from ganaug.generators.stylegan2_ada.networks import build
from ganaug.generators.stylegan2_ada.sampling import fixed_latents
from ganaug.io import write_csv
from ganaug.runtime import autocast, select_device, set_tf32
from ganaug.training.checkpoints import restore_rng_state, rng_state, save_checkpoint
from ganaug.viz import plot_curves

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["iteration", "kimg", "loss_g", "loss_d", "r1", "pl", "real_sign", "ada_p"]
# the running sums of a history row: generator and discriminator losses, R1 and path-length
# penalties (with their counts), the real logits' signs and their count
WINDOW = ("loss_g", "loss_d", "n_main", "r1", "n_r1", "pl", "n_pl", "sign", "n_sign")


class _Trainer:
    def __init__(self, cfg: StyleGan2AdaConfig, train: MinorityTrainSet, out: GeneratorOutputs, device):
        self.cfg, self.out, self.device = cfg, out, device
        self.real = train.images.to(device).float().div(127.5).sub(1.0)
        self.training_set = train.fingerprint()
        self.settings = cfg.resume_settings(device)
        self.g = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(cfg.seed)
        self.sampler = EndlessSampler(len(self.real), cfg.batch_size, self.g, NAME)
        # the global stream too, as the other families: the checkpoint records it, and a fresh
        # process starts it from a random seed
        torch.manual_seed(cfg.seed)
        gen, disc = build(cfg.shape(), cfg.seed)
        self.G, self.D = gen.to(device), disc.to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if device.type == "cuda":
            set_tf32(cfg.tf32)
        g_interval = cfg.g_reg_interval if cfg.pl_weight > 0 else 0
        self.opt_g = losses.lazy_adam(self.G.parameters(), cfg.lr, cfg.betas, g_interval)
        self.opt_d = losses.lazy_adam(self.D.parameters(), cfg.lr, cfg.betas, cfg.d_reg_interval)
        self.p, self.r_t = 0.0, None  # ADA's probability and its last heuristic
        self.ada = torch.zeros(2, device=device)  # sum of sign(D(real)), images, since the last adjustment
        self.pl_mean = torch.zeros((), device=device)
        self.window = torch.zeros(len(WINDOW), device=device)
        self.history: list[dict] = []
        self.start, self.last_ckpt = 0, None

    # ------------------------------------------------------------ state

    def _state(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            # p as a tensor: the family tests compare every tensor of two checkpoints
            "ada": {"p": torch.tensor(self.p, dtype=torch.float64), "r_t": self.r_t, "acc": self.ada.clone()},
            "pl_mean": self.pl_mean.clone(),
            "window": self.window.clone(),
            "rng": self.g.get_state(),
            "sampler": self.sampler.state_dict(),
            "global_rng": rng_state(self.device),
            "history": self.history,
        }

    def resume(self) -> None:
        cfg = self.cfg
        state = resumable_state(
            self.out.checkpoint,
            self.settings,
            self.training_set,
            cfg.total_iterations,
            NAME,
            cfg.SECTION,
            f"{cfg.SECTION}.total_iterations",
        )
        if state is None:
            log.info("%s: training from scratch on %d images", NAME, len(self.real))
            return
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.p, self.r_t = float(state["ada"]["p"]), state["ada"]["r_t"]
        self.ada = state["ada"]["acc"].to(self.device)
        self.pl_mean, self.window = state["pl_mean"].to(self.device), state["window"].to(self.device)
        self.g.set_state(state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        restore_rng_state(state["global_rng"], self.device)
        self.history = list(state["history"])
        self.start = self.last_ckpt = int(state["iteration"])
        log.info(
            "%s: resumed from %s at iteration %d (p %.3f)", NAME, self.out.checkpoint, self.start, self.p
        )

    def checkpoint(self, iteration: int, complete: bool = False) -> None:
        if not bool(torch.isfinite(self.window).all()):
            raise NonFiniteLoss(f"{NAME}: non-finite loss by iteration {iteration}: no checkpoint written")
        head = {"family": NAME, "iteration": iteration, "complete": complete}
        save_checkpoint(
            {
                **head,
                "training_set": self.training_set,
                "settings": self.settings,
                **self._state(),
                "config": as_dict(self.cfg),
            },
            self.out.checkpoint,
        )
        self.last_ckpt = iteration

    # ------------------------------------------------------------ one minibatch

    def _randn(self, *shape) -> torch.Tensor:
        return torch.randn(shape, generator=self.g, device=self.g.device).to(self.device)

    def _ws(self, n: int) -> torch.Tensor:
        """Latents for ``n`` images; with probability ``style_mixing`` the layers from a random
        cutoff on take a second latent's w (every draw made either way: one stream)."""
        ws = self.G.ws(self._randn(n, self.cfg.z_dim))
        cutoff = int(torch.randint(1, self.G.num_ws, (), generator=self.g, device=self.g.device))
        mix = float(torch.rand((), generator=self.g, device=self.g.device)) < self.cfg.style_mixing
        other = self.G.ws(self._randn(n, self.cfg.z_dim))
        return torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1) if mix else ws

    def _d(self, images: torch.Tensor) -> torch.Tensor:
        """D's logits on the augmented images, in fp32. The augmentation runs in fp32 whatever the
        generator's autocast gave (bf16 has no CPU kernel for its anti-aliased resampling, and its
        8-bit mantissa would blur the geometric transforms)."""
        images = images.float()
        x = augment(images, self.p, self.g) if self.cfg.ada else images
        with autocast(self.device, self.cfg.bf16):
            return self.D(x).float()

    def _step(self, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def advance(self, it: int) -> dict[str, str] | None:
        cfg, n, w = self.cfg, self.cfg.batch_size, self.window
        self.G.train()
        # 1. the generator's main step (D frozen: its gradients are not wanted here)
        self.D.requires_grad_(False)
        with autocast(self.device, cfg.bf16):
            fake = self.G.synthesis(self._ws(n), noise=self.g)
        loss_g = losses.generator_loss(self._d(fake))
        self._step(self.opt_g, loss_g)
        # 2. the path-length regulariser, lazily, on half a batch, in fp32
        if cfg.pl_weight > 0 and it % cfg.g_reg_interval == 0:
            ws = self._ws(max(1, n // 2))
            images = self.G.synthesis(ws, noise=self.g)
            lengths = losses.path_lengths(images, ws, self._randn(*images.shape))
            self.pl_mean = self.pl_mean.lerp(lengths.mean().detach(), 0.01)
            penalty = (lengths - self.pl_mean).square().mean()
            self._step(self.opt_g, penalty * cfg.pl_weight * cfg.g_reg_interval)
            w[5:7] += torch.stack([penalty.detach(), torch.ones((), device=self.device)])
        self.D.requires_grad_(True)
        # 3. the discriminator's main step
        with torch.no_grad(), autocast(self.device, cfg.bf16):
            fake = self.G.synthesis(self._ws(n), noise=self.g)
        real = self.real[self.sampler.next().to(self.device)]
        real_logits = self._d(real)
        loss_d = losses.discriminator_loss(self._d(fake.float()), real_logits)
        self._step(self.opt_d, loss_d)
        signs = real_logits.detach().sign().sum()
        self.ada += torch.stack([signs, torch.tensor(float(n), device=self.device)])
        w[[0, 1, 2, 7, 8]] += torch.stack(
            [loss_g.detach(), loss_d.detach(), w.new_ones(()), signs, w.new_tensor(n)]
        )
        # 4. R1 on the same real images, lazily, in fp32
        if it % cfg.d_reg_interval == 0:
            x = real.detach().requires_grad_(True)
            x_aug = augment(x, self.p, self.g) if cfg.ada else x
            penalty = losses.r1(self.D(x_aug).float(), x)
            self._step(self.opt_d, (penalty * (cfg.gamma / 2)).mean() * cfg.d_reg_interval)
            w[3:5] += torch.stack([penalty.detach().mean(), w.new_ones(())])
        self._ema(it)
        # 6. ADA: p towards the target r_t
        if cfg.ada and it % cfg.ada_interval == 0:
            total, seen = self.ada.tolist()
            self.r_t = total / seen
            self.p = adjust_p(self.p, self.r_t, cfg.ada_target, int(seen), cfg.ada_kimg)
            self.ada.zero_()
        postfix = None
        if it % cfg.log_interval == 0 or it == cfg.total_iterations:
            row = self._row(it)
            postfix = {"loss_d": f"{row['loss_d']:.3f}", "p": f"{self.p:.3f}"}
        if it % cfg.sample_interval == 0 and it < cfg.total_iterations:
            save_grid(self.grid(), self.out.samples_dir / f"iter_{it:06d}.png", nrow=4)
        return postfix

    @torch.no_grad()
    def _ema(self, it: int) -> None:
        """5. G_ema = beta G_ema + (1 - beta) G, beta = 0.5^(batch / half-life in images)."""
        cfg = self.cfg
        half_life = cfg.ema_kimg * 1000
        if cfg.ema_rampup is not None:
            half_life = min(half_life, it * cfg.batch_size * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch_size / max(half_life, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def _row(self, it: int) -> dict:
        w = self.window
        if not bool(torch.isfinite(w).all()):
            where = f"{self.out.checkpoint} (iteration {self.last_ckpt})" if self.last_ckpt else "none"
            raise NonFiniteLoss(f"{NAME}: non-finite loss by iteration {it}; last good checkpoint: {where}")
        v = dict(zip(WINDOW, w.tolist(), strict=True))

        def mean(key: str, count: str) -> float | None:
            return v[key] / v[count] if v[count] else None

        row = {
            "iteration": it,
            "kimg": it * self.cfg.batch_size / 1000,
            "loss_g": mean("loss_g", "n_main"),
            "loss_d": mean("loss_d", "n_main"),
            "r1": mean("r1", "n_r1"),
            "pl": mean("pl", "n_pl"),
            "real_sign": mean("sign", "n_sign"),
            "ada_p": self.p,
        }
        self.history.append(row)
        w.zero_()
        return row

    # ------------------------------------------------------------ outputs

    @torch.no_grad()
    def grid(self, n: int = 16) -> torch.Tensor:
        z = fixed_latents(self.cfg.seed + 1, list(range(n)), self.cfg.z_dim).to(self.device)
        return self.G_ema(z).float()

    def session(self):
        return contextlib.nullcontext()

    def generator_blob(self, it: int) -> dict:
        """What generator.pt holds: the EMA generator, its shape and the augmentation p reached."""
        return {
            "family": NAME,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.G_ema.state_dict().items()},
            "hparams": self.cfg.shape(),
            "ada_p": self.p,
            "iterations": it,
            "training_set": self.training_set,
        }

    def finish(self) -> pd.DataFrame:
        cfg, out = self.cfg, self.out
        hist = pd.DataFrame(self.history, columns=HISTORY_COLUMNS)
        write_csv(hist, out.history)
        panels = [
            ("loss_d", "discriminator loss"),
            ("loss_g", "generator loss"),
            ("real_sign", "r_t = E[sign D(real)]"),
            ("ada_p", "ADA p"),
        ]
        plot_curves(hist, panels, "iteration", out.curves)
        save_grid(self.grid(), out.grid, nrow=4)
        loop.progress_montage(out, "iteration")
        save_checkpoint(self.generator_blob(cfg.total_iterations), out.generator)
        log.info("%s: EMA generator written to %s (ADA p %.3f)", NAME, out.generator, self.p)
        return hist


def train(cfg: StyleGan2AdaConfig, data: MinorityTrainSet, out: GeneratorOutputs, device, progress=True):
    """Train (or resume) to ``cfg.total_iterations``; write every output; return the history."""
    return loop.run(_Trainer(cfg, data, out, device), cfg.total_iterations, NAME, "iteration", progress)


def train_rule(metadata, params, section, outputs: GeneratorOutputs, device: str, threads: int):
    """The rule train_generator: its params and the section's watch keys."""
    cfg = StyleGan2AdaConfig.for_training(params, section)
    return train_from_metadata(metadata, cfg, outputs, device, threads)


def train_from_metadata(
    metadata: str | Path, cfg: StyleGan2AdaConfig, out: GeneratorOutputs, device: str, threads: int
) -> pd.DataFrame:
    """The train-split minority images of ``metadata``, selected before any image is opened."""
    torch.set_num_threads(threads)
    return train(cfg, load_train_minority(metadata, cfg.img_size), out, select_device(device, cfg.tf32))
