"""The study's GPU time cut where it goes, each cut against what it replaced, in one run on the CPU:

1. **the WGAN-GP critic step replayed from a CUDA graph** (``gan.cuda_graph``): the ops the host
   dispatches for one eager critic step at the study's size (256 px, batch 16; each a kernel
   launch on a GPU unless it is a view) against those of a replayed one (the trainer's own
   ``stage_critic_inputs`` and one graph launch). Counted, not timed: a CPU cannot capture a
   graph; ``benchmarks/gpu_check.sh`` times both on a GPU.
2. **the DDPM's EMA update in three multi-tensor ops** (``ganaug.generators.ddpm.ema``) against
   diffusers' per-tensor loop, on the study's UNet: dispatched ops, CPU time, and bit-equality of
   the shadow weights after several updates.
3. **a fit in bf16 autocast against fp32** (``classifier.bf16``): a few training steps of
   ResNet-50 on the same images from the same weights, CPU time and how far the validation
   probabilities move. On a GPU bf16 is where the fits' time goes (the published anchors: 2.6x
   ResNet-50's TF32 rate); on a CPU without bf16 units it can be slower, and this says which.

    python benchmarks/bench_gpu_cuts.py [--size 64] [--json benchmarks/out/gpu_cuts.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_hot_loop import best_of  # noqa: E402

from ganaug.cost.tally import tally  # noqa: E402
from ganaug.data.provenance import MinorityTrainSet  # noqa: E402
from ganaug.generators.ddpm.config import DdpmConfig  # noqa: E402
from ganaug.generators.loop import GeneratorOutputs  # noqa: E402
from ganaug.generators.wgan_gp.config import WganGpConfig  # noqa: E402
from ganaug.generators.wgan_gp.cost import captured_host_ops  # noqa: E402
from ganaug.generators.wgan_gp.training import _Trainer  # noqa: E402
from ganaug.settings import FitConfig  # noqa: E402

NOWHERE = GeneratorOutputs(*(Path("/nonexistent") / n for n in "abcdefg"))


def bench_critic_launches(cfg: WganGpConfig) -> dict:
    """Host-dispatched ops of one critic step, eager (on the meta device: the same ops a GPU
    gets, without computing) against replayed."""
    x = torch.zeros(cfg.batch_size * 2, 3, cfg.img_size, cfg.img_size, dtype=torch.uint8)
    ids = [f"ISIC_{i:07d}" for i in range(len(x))]
    t = _Trainer(cfg, MinorityTrainSet(ids, x), NOWHERE, torch.device("meta"))
    t.critic_step()  # Adam's state is made on its first step
    eager = tally(t.critic_step)
    staged = captured_host_ops(cfg)
    replayed = staged.ops + 1  # and the graph's one launch
    return {
        "size": cfg.img_size,
        "batch": cfg.batch_size,
        "eager_ops": eager.ops,
        "eager_kernel_launches": eager.kernels,
        "replayed_ops": replayed,
        "replayed_kernel_launches": staged.kernels + 1,
        "ops_ratio": round(eager.ops / replayed, 1),
        "launch_ratio": round(eager.kernels / (staged.kernels + 1), 1),
    }


def bench_ema(cfg: DdpmConfig, updates: int, rounds: int) -> dict:
    from diffusers.training_utils import EMAModel

    from ganaug.generators.ddpm.ema import BatchedEma
    from ganaug.generators.ddpm.networks import build_unet

    unet = build_unet(cfg.shape(), cfg.seed)
    params = list(unet.parameters())
    loop, batched = EMAModel(params, decay=cfg.ema_decay), BatchedEma(params, decay=cfg.ema_decay)
    g = torch.Generator().manual_seed(0)
    for _ in range(updates):
        with torch.no_grad():
            for p in params:
                p.add_(torch.randn(p.shape, generator=g), alpha=1e-3)
        loop.step(params)
        batched.step(params)
    equal = all(torch.equal(a, b) for a, b in zip(loop.shadow_params, batched.shadow_params, strict=True))
    t_loop, t_batched = (
        best_of(lambda: loop.step(params), rounds),
        best_of(lambda: batched.step(params), rounds),
    )
    return {
        "tensors": len(params),
        "parameters_m": round(sum(p.numel() for p in params) / 1e6, 2),
        "loop_ops": tally(lambda: loop.step(params)).ops,
        "batched_ops": tally(lambda: batched.step(params)).ops,
        "loop_s": round(t_loop, 4),
        "batched_s": round(t_batched, 4),
        "cpu_speedup": round(t_loop / t_batched, 2),
        "bit_identical_after": updates if equal else None,
    }


def bench_bf16_fit(size: int, steps: int, batch: int) -> dict:
    """ResNet-50 (random init, seed 0) trained ``steps`` steps on the same images in fp32 and in
    bf16 autocast (the fit's own _train_epoch), then both predict the same validation images."""
    from ganaug.loss_spec import LossSpec
    from ganaug.models.classifiers import create_classifier
    from ganaug.training.classifier import _train_epoch, _TrainData, predict
    from ganaug.training.losses import training_loss

    cpu = torch.device("cpu")
    g = torch.Generator().manual_seed(1)
    n = steps * batch
    x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    y = (torch.arange(n) % 4 == 0).long().numpy()
    val = torch.randint(0, 256, (32, 3, size, size), generator=g, dtype=torch.uint8)
    out = {}
    warm = create_classifier("resnet50", "random", 2)  # untimed: the first passes pay for allocation
    for bf16 in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            warm(x[:batch].float()).sum().backward()
    for name, bf16 in (("fp32", False), ("bf16", True)):
        torch.manual_seed(0)
        model = create_classifier("resnet50", "random", 2)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        cfg = FitConfig(batch_size=batch, bf16=bf16)
        data = _TrainData(x, y, cpu)
        t = time.perf_counter()
        _train_epoch(
            model,
            opt,
            data,
            torch.arange(n),
            cfg,
            training_loss(LossSpec(), np.bincount(y, minlength=2).tolist(), torch.ones(2)),
            torch.Generator(),
            False,
            cpu,
            lambda it: it,
        )
        seconds = time.perf_counter() - t
        out[name] = {"seconds": round(seconds, 2), "prob": predict(model, val, cpu, 32, bf16)}
    diff = np.abs(out["fp32"]["prob"] - out["bf16"]["prob"])
    return {
        "size": size,
        "steps": steps,
        "batch": batch,
        "fp32_s": out["fp32"]["seconds"],
        "bf16_s": out["bf16"]["seconds"],
        "bf16_speedup_on_this_cpu": round(out["fp32"]["seconds"] / out["bf16"]["seconds"], 2),
        "val_prob_max_abs_diff": round(float(diff.max()), 4),
        "val_prob_mean_abs_diff": round(float(diff.mean()), 4),
        "cpu_bf16_units": "amx_bf16" in _cpu_flags() or "avx512_bf16" in _cpu_flags(),
    }


def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gan-size", type=int, default=256, help="the critic step's image size (the study's)")
    ap.add_argument(
        "--ddpm", choices=("study", "demo"), default="study", help="the UNet of the EMA benchmark"
    )
    ap.add_argument("--fit-size", type=int, default=64)
    ap.add_argument("--fit-steps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/out/gpu_cuts.json")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    gan = replace(WganGpConfig(), img_size=args.gan_size)
    if args.ddpm == "study":
        ddpm = DdpmConfig(block_out_channels=(32, 64, 128, 128, 256))
    else:
        ddpm = DdpmConfig(img_size=64, block_out_channels=(16, 32, 64), norm_num_groups=8)
    report = {"critic_launches": bench_critic_launches(gan)}
    print("critic step", json.dumps(report["critic_launches"]), flush=True)
    report["ema"] = bench_ema(ddpm, 5, args.rounds)
    print("ema", json.dumps(report["ema"]), flush=True)
    report["bf16_fit"] = bench_bf16_fit(args.fit_size, args.fit_steps, 8)
    print("bf16 fit", json.dumps(report["bf16_fit"]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
