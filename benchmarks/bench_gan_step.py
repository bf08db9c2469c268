"""WGAN-GP step throughput: generator iterations per second, and achieved TFLOP/s.

One generator iteration = n_critic (5) critic steps with the gradient penalty's double
backward + one generator step, at batch 16. Three loops run in the same process, on the same data:

- ``new``: this code's step (``ganaug.generators.wgan_gp.training._Trainer``): noise, batch indices and
  interpolation weights drawn on the device when training on a GPU, losses summed on the device
  and checked for finiteness once per ``log_interval`` (one host sync per history row);
- ``previous``: the step as it was before (commit 2249241), copied here: noise drawn on the CPU and
  copied over, and a finiteness check, hence a host sync, after every iteration;
- ``study``: the study's loop as written (one real batch reused for all five critic steps).

The whole training loop (``train_gan``, with checkpoints and grids) is also timed as
t(warmup + N) - t(warmup), so set-up and output writing cancel out. FLOPs are counted by
torch's FlopCounterMode on one iteration.

CPU (this machine):  python benchmarks/bench_gan_step.py
GPU (one command):   python benchmarks/bench_gan_step.py --device cuda --configs full \
                         --precisions fp32,tf32,bf16 --compile both --iterations 60
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
from ganaug.generators.loop import EndlessSampler, GeneratorOutputs
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.cost import flops_per_iteration
from ganaug.generators.wgan_gp.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.generators.wgan_gp.training import _Trainer, build_models, train_gan

CONFIGS = {
    # the demo's network (config/demo.yaml) and the study's (config/config.yaml)
    "demo": WganGpConfig(img_size=64, features_g=8, features_d=8),
    "full": WganGpConfig(img_size=256),
}


def _outputs(root: Path) -> GeneratorOutputs:
    return GeneratorOutputs(
        root / "c.pt", root / "g.pt", root / "h.csv", root / "c.png", root / "g.png", root / "s", root / "tb"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def loop_seconds(cfg: WganGpConfig, real: torch.Tensor, device: torch.device, n: int, warm: int) -> float:
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


def interleaved(steps: dict, n: int, warm: int, rounds: int, device: torch.device) -> dict[str, float]:
    """Seconds per iteration of each step function, timed in alternating blocks (A B B A ...) so
    that a change of machine load or clock falls on all of them alike."""
    count = dict.fromkeys(steps, 0)
    for name, step in steps.items():
        for _ in range(warm):
            count[name] += 1
            step(count[name])
    total = dict.fromkeys(steps, 0.0)
    block = max(1, n // rounds)
    names = list(steps)
    for k in range(rounds):
        # A B, then B A: a drift in machine speed falls on both alike
        for name in names if k % 2 == 0 else names[::-1]:
            step = steps[name]
            _sync(device)
            t = time.perf_counter()
            for _ in range(block):
                count[name] += 1
                step(count[name])
            _sync(device)
            total[name] += time.perf_counter() - t
    return {name: v / (block * rounds) for name, v in total.items()}


def new_step(cfg: WganGpConfig, real: torch.Tensor, device: torch.device, tmp: Path):
    """This code's step, without the loop's outputs."""
    train = MinorityTrainSet([f"{i:05d}" for i in range(len(real))], real)
    t = _Trainer(cfg, train, _outputs(tmp), device)

    def step(it: int) -> None:
        for _ in range(cfg.n_critic):
            loss_d = t.critic_step()
        t.accumulate(loss_d, t.generator_step())
        if it % cfg.log_interval == 0:
            t.history_row(it)

    return step


def previous_step(cfg: WganGpConfig, real: torch.Tensor, device: torch.device):
    """The step before this change (commit 2249241), as it was: the
    random stream on the CPU, and a finiteness check (a host sync) after every iteration."""
    data = real.to(device).float().div(127.5).sub(1.0)
    g = torch.Generator().manual_seed(cfg.seed)
    sampler = EndlessSampler(len(data), cfg.batch_size, g)
    gen, critic = build_models(cfg)
    gen, critic = gen.to(device), critic.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    gen_fwd = torch.compile(gen) if cfg.compile else gen
    ac = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")  # noqa: E731
    sums = torch.zeros(4, device=device)

    def step(it: int) -> None:
        nonlocal sums
        for _ in range(cfg.n_critic):
            batch = data[sampler.next().to(device)]
            z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=g).to(device)
            with ac():
                fake = gen_fwd(z).detach()
                d_real, d_fake = critic(batch), critic(fake)
            eps = torch.rand(cfg.batch_size, generator=g).to(device)
            loss_d = critic_loss(d_real, d_fake, gradient_penalty(critic, batch, fake, eps), cfg.lambda_gp)
            opt_d.zero_grad(set_to_none=True)
            loss_d.total.backward()
            opt_d.step()
        z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=g).to(device)
        critic.requires_grad_(False)
        with ac():
            loss_g = generator_loss(critic(gen_fwd(z)))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        critic.requires_grad_(True)
        row = torch.stack([loss_d.total.detach(), loss_g.detach(), loss_d.wasserstein, loss_d.penalty])
        if not bool(torch.isfinite(row).all()):  # the per-iteration host sync
            raise RuntimeError("non-finite loss")
        sums += row
        if it % cfg.log_interval == 0:
            sums.tolist()
            sums.zero_()

    return step


def study_loop_seconds(
    cfg: WganGpConfig, real: torch.Tensor, device: torch.device, n: int, warm: int
) -> float:
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


def measure(
    cfg: WganGpConfig, real: torch.Tensor, device: torch.device, n: int, warm: int, whole: bool, rounds: int
) -> dict:
    """Seconds per iteration of each loop, same data, same process; new and previous interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        steps = {"new": new_step(cfg, real, device, Path(tmp)), "previous": previous_step(cfg, real, device)}
        sec = interleaved(steps, n, warm, rounds, device)
    study = study_loop_seconds(cfg, real, device, n, warm)
    out = {
        "iterations_per_second": round(1 / sec["new"], 3),
        "previous_step_iterations_per_second": round(1 / sec["previous"], 3),
        "new_over_previous_speed": round(sec["previous"] / sec["new"], 3),
        "study_loop_iterations_per_second": round(1 / study, 3),
        "speedup_vs_study_loop": round(study / sec["new"], 3),
    }
    if whole:
        out["whole_loop_iterations_per_second"] = round(1 / loop_seconds(cfg, real, device, n, warm), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default="demo,full")
    ap.add_argument("--precisions", default="fp32", help="comma list of fp32, tf32, bf16")
    ap.add_argument("--compile", default="off", choices=["off", "on", "both"], help="torch.compile G")
    ap.add_argument("--iterations", type=int, default=0, help="timed iterations (0: 20 demo, 4 full on CPU)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4, help="alternating blocks of new and previous")
    ap.add_argument("--no-whole-loop", action="store_true", help="skip timing train_gan as a whole")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/gan_step.json"))
    args = ap.parse_args()
    device = torch.device(args.device)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "threads": torch.get_num_threads(), "runs": []}  # fmt: skip
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    for name in args.configs.split(","):
        base = CONFIGS[name]
        flops = flops_per_iteration(base, device)
        real = torch.randint(0, 256, (48, 3, base.img_size, base.img_size), dtype=torch.uint8)
        n = args.iterations or (20 if name == "demo" or device.type == "cuda" else 4)
        for prec in args.precisions.split(","):
            if device.type == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = prec in ("tf32", "bf16")
                torch.backends.cudnn.allow_tf32 = prec in ("tf32", "bf16")
                torch.backends.cudnn.benchmark = True
            for comp in compiles:
                cfg = replace(base, bf16=prec == "bf16", compile=comp, log_interval=10)
                run = {"config": name, "img_size": cfg.img_size, "batch_size": cfg.batch_size,
                       "precision": prec, "compile": comp,
                       "tflop_per_iteration": round(flops / 1e12, 4)}  # fmt: skip
                run.update(measure(cfg, real, device, n, args.warmup, not args.no_whole_loop, args.rounds))
                run["achieved_tflops"] = round(flops * run["iterations_per_second"] / 1e12, 3)
                run["minutes_for_50000_iterations"] = round(50_000 / run["iterations_per_second"] / 60, 1)
                report["runs"].append(run)
                print(json.dumps(run), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
