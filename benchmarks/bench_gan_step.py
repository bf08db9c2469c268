"""WGAN-GP step throughput: generator iterations per second, and achieved TFLOP/s.

One generator iteration = n_critic (5) critic steps with the gradient penalty's double
backward + one generator step, at batch 16. The time per iteration is measured through the real
training loop (``train_gan``) as t(warmup + N) - t(warmup), so set-up, checkpoint and output
writing cancel out. The reference in the same run is the study's loop as written: one real
batch reused for all five critic steps, the critic's weight gradients computed in the generator
step as well. FLOPs are counted by torch's FlopCounterMode on one iteration.

CPU (this machine):  python benchmarks/bench_gan_step.py
GPU (one command):   python benchmarks/bench_gan_step.py --device cuda --configs full \
                         --precisions fp32,tf32,bf16 --iterations 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.data.provenance import MinorityTrainSet
from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.training.gan import GanConfig, GanOutputs, build_models, flops_per_iteration, train_gan

CONFIGS = {
    # the demo's network (config/demo.yaml) and the study's (config/config.yaml)
    "demo": GanConfig(img_size=64, features_g=8, features_d=8),
    "full": GanConfig(img_size=256),
}


def _outputs(root: Path) -> GanOutputs:
    return GanOutputs(
        root / "c.pt", root / "g.pt", root / "h.csv", root / "c.png", root / "g.png", root / "s", root / "tb"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def loop_seconds(cfg: GanConfig, real: torch.Tensor, device: torch.device, n: int, warm: int) -> float:
    """Seconds per iteration of the project's loop."""
    times = []
    for total in (warm, warm + n):
        with tempfile.TemporaryDirectory() as tmp:
            c = replace(
                cfg, total_iterations=total, checkpoint_interval=10**9, sample_interval=10**9, log_interval=10
            )
            _sync(device)
            t = time.perf_counter()
            train = MinorityTrainSet([f"{i:05d}" for i in range(len(real))], real)
            train_gan(c, train, _outputs(Path(tmp)), device, progress=False)
            _sync(device)
            times.append(time.perf_counter() - t)
    return (times[1] - times[0]) / n


def study_loop_seconds(cfg: GanConfig, real: torch.Tensor, device: torch.device, n: int, warm: int) -> float:
    """Seconds per iteration of the study's loop: one batch for all critic steps."""
    gen, critic = build_models(cfg)
    gen, critic = gen.to(device), critic.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    data = real.to(device).float() / 127.5 - 1
    ac = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")

    def iteration() -> None:
        batch = data[torch.randint(len(data), (cfg.batch_size,), device=device)]
        for _ in range(cfg.n_critic):
            z = torch.randn(cfg.batch_size, cfg.latent_dim, device=device)
            with ac:
                fake = gen(z).detach()
                d_real, d_fake = critic(batch), critic(fake)
            loss = critic_loss(d_real, d_fake, gradient_penalty(critic, batch, fake), cfg.lambda_gp).total
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        z = torch.randn(cfg.batch_size, cfg.latent_dim, device=device)
        with ac:
            g_loss = generator_loss(critic(gen(z)))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    for _ in range(warm):
        iteration()
    _sync(device)
    t = time.perf_counter()
    for _ in range(n):
        iteration()
    _sync(device)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default="demo,full")
    ap.add_argument("--precisions", default="fp32", help="comma list of fp32, tf32, bf16")
    ap.add_argument("--iterations", type=int, default=0, help="timed iterations (0: 20 demo, 2 full on CPU)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/gan_step.json"))
    args = ap.parse_args()
    device = torch.device(args.device)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "threads": torch.get_num_threads(), "runs": []}  # fmt: skip
    for name in args.configs.split(","):
        base = CONFIGS[name]
        flops = flops_per_iteration(base, device)
        real = torch.randint(0, 256, (48, 3, base.img_size, base.img_size), dtype=torch.uint8)
        n = args.iterations or (20 if name == "demo" or device.type == "cuda" else 2)
        for prec in args.precisions.split(","):
            if device.type == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = prec in ("tf32", "bf16")
                torch.backends.cudnn.allow_tf32 = prec in ("tf32", "bf16")
                torch.backends.cudnn.benchmark = True
            cfg = replace(base, bf16=prec == "bf16")
            ours = loop_seconds(cfg, real, device, n, args.warmup)
            study = study_loop_seconds(cfg, real, device, n, args.warmup)
            run = {
                "config": name,
                "img_size": cfg.img_size,
                "batch_size": cfg.batch_size,
                "precision": prec,
                "tflop_per_iteration": round(flops / 1e12, 4),
                "iterations_per_second": round(1 / ours, 3),
                "study_loop_iterations_per_second": round(1 / study, 3),
                "speedup_vs_study_loop": round(study / ours, 3),
                "achieved_tflops": round(flops / ours / 1e12, 3),
                "hours_for_50000_iterations": round(50_000 * ours / 3600, 2),
            }
            report["runs"].append(run)
            print(json.dumps(run), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
