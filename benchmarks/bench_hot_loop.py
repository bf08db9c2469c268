"""The host overhead of the hot loops, each against the code it replaced, in one run:

1. **a fit's fixed cost**: its training and validation images decoded from PNGs by the fit itself
   (as every fit did) against gathered from the decode_split rule's memory-mapped arrays
   (``ganaug.data.image_cache``), the arrays' own one-off decode timed beside them;
2. **the traditional augmentation's colour jitter**: torchvision's functional ops image by image
   (``jitter_per_image``, the loop it replaced) against one batched call (``jitter``);
3. **the WGAN-GP critic step**: the critic called on real and fake separately (the step of commit
   97e90d7, copied below) against one call on both (``_Trainer.critic_step``).

Each reports wall time on this machine and the number of aten ops dispatched (TorchDispatchMode):
on a GPU each op is a kernel launch of 3-5 us, so the op count is what the CPU can measure of the
launch-bound cost there. Each checks that both sides give the same result (exactly, or for the
critic's gradients to float summation order), and prints a ratio.

    python benchmarks/bench_hot_loop.py [--images 2000] [--json benchmarks/out/hot_loop.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ganaug.cost.tally import tally
from ganaug.data.datasets import decode_cache, real_split
from ganaug.data.image_cache import SplitCache, decode_split_rule
from ganaug.data.provenance import MinorityTrainSet
from ganaug.generators.loop import GeneratorOutputs
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.losses import critic_loss, gradient_penalty
from ganaug.generators.wgan_gp.training import _Trainer
from ganaug.training.augment import draw_parameters, jitter, jitter_per_image


def count_ops(fn) -> int:
    """Aten ops ``fn()`` dispatches (ganaug.cost.tally's counter)."""
    return tally(fn).ops


def best_of(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _world(root: Path, n_train: int, n_val: int, size: int) -> Path:
    """PNGs with the spatial statistics of a photograph (smooth, not noise, so they compress and
    decode like one) and a metadata.csv naming them."""
    rng = np.random.default_rng(0)
    rows = []
    for split, n in (("train", n_train), ("val", n_val)):
        for k in range(n):
            small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
            img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
            img = cv2.add(img, rng.integers(0, 12, img.shape, dtype=np.uint8))
            path = root / "img" / f"{split}_{k:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), img)
            rows.append({"image_id": f"{split}_{k:05d}", "path": str(path), "label": "x",
                         "target": int(k % 20 == 0), "split": split, "lesion_id": "", "patient_id": "",
                         "synthetic": False})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root / "metadata.csv"


def bench_fixed_cost(n_train: int, n_val: int, size: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        meta = _world(Path(tmp), n_train, n_val, size)
        sets = {s: real_split(meta, s) for s in ("train", "val")}
        t = time.perf_counter()
        for s in sets:
            npy = Path(tmp) / "cache" / f"{s}.npy"
            decode_split_rule(meta, s, size, npy, npy.with_suffix(".json"), threads)
        once = time.perf_counter() - t

        def decoded():  # what each fit did: both splits from their PNGs, on one thread
            return [decode_cache(v.paths, size) for v in sets.values()]

        def gathered():  # what each fit does now
            return [
                SplitCache(Path(tmp) / "cache" / f"{s}.npy", meta, s, size).gather(v.ids, v.paths, size)
                for s, v in sets.items()
            ]

        before, after = decoded(), gathered()
        assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True)), "the cache changed pixels"
        t_dec, t_gat = best_of(decoded, 1), best_of(gathered, 3)
    return {
        "images": n_train + n_val,
        "size": size,
        "decode_split_once_s": round(once, 3),
        "decode_split_threads": threads,
        "fit_decodes_s": round(t_dec, 3),
        "fit_gathers_s": round(t_gat, 3),
        "fixed_cost_ratio": round(t_dec / t_gat, 1),
        "identical_pixels": True,
    }


def bench_jitter(n: int, size: int, rounds: int) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=g)
    p = draw_parameters(g, n)
    f = [p[k] for k in ("brightness", "contrast", "saturation", "hue")]
    assert torch.equal(jitter(x, *f), jitter_per_image(x, *f)), "batched jitter differs"
    loop, batched = best_of(lambda: jitter_per_image(x, *f), rounds), best_of(lambda: jitter(x, *f), rounds)
    ops_loop, ops_batched = count_ops(lambda: jitter_per_image(x, *f)), count_ops(lambda: jitter(x, *f))
    return {
        "images": n,
        "size": size,
        "per_image_s": round(loop, 4),
        "batched_s": round(batched, 4),
        "speed_ratio": round(loop / batched, 2),
        "per_image_ops": ops_loop,
        "batched_ops": ops_batched,
        "ops_ratio": round(ops_loop / ops_batched, 1),
        "identical": True,
    }


def _two_call_step(t: _Trainer) -> None:
    """The critic step of commit 97e90d7: the generator with a graph, detached, and two critic
    calls."""
    batch = t.real[t.sampler.next().to(t.device)]
    z = t._noise().to(t.device)
    with t._autocast():
        fake = t.gen_fwd(z).detach()
        real_a, fake_a = t.aug(batch), t.aug(fake)
        d_real, d_fake = t.critic(real_a), t.critic(fake_a)
    eps = torch.rand(t.cfg.batch_size, generator=t.g, device=t.g.device).to(t.device)
    gp = gradient_penalty(t.critic, real_a, fake_a, eps)
    loss = critic_loss(d_real, d_fake, gp, t.cfg.lambda_gp)
    t.opt_d.zero_grad(set_to_none=True)
    loss.total.backward()
    t.opt_d.step()


def bench_critic(name: str, cfg: WganGpConfig, rounds: int) -> dict:
    g = torch.Generator().manual_seed(1)
    imgs = torch.randint(0, 256, (max(64, cfg.batch_size), 3, cfg.img_size, cfg.img_size), generator=g)
    train = MinorityTrainSet([f"ISIC_{i:07d}" for i in range(len(imgs))], imgs.to(torch.uint8))
    out = GeneratorOutputs(*(Path("/nonexistent") / n for n in "abcdefg"))
    merged_t, two_t = (_Trainer(cfg, train, out, torch.device("cpu")) for _ in range(2))
    ops_merged = count_ops(merged_t.critic_step)
    ops_two = count_ops(lambda: _two_call_step(two_t))
    t_merged = best_of(merged_t.critic_step, rounds)
    t_two = best_of(lambda: _two_call_step(two_t), rounds)
    return {
        "config": name,
        "img_size": cfg.img_size,
        "batch_size": cfg.batch_size,
        "two_calls_s": round(t_two, 4),
        "merged_s": round(t_merged, 4),
        "speed_ratio": round(t_two / t_merged, 3),
        "two_calls_ops": ops_two,
        "merged_ops": ops_merged,
        "ops_ratio": round(ops_two / ops_merged, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000, help="training images of the fixed-cost part")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="decode_split's threads")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--full-critic", action="store_true", help="also the study's 256-px critic (slow on a CPU)"
    )
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/hot_loop.json"))
    args = ap.parse_args()
    torch.manual_seed(0)
    report = {"threads": torch.get_num_threads()}
    report["fixed_cost"] = bench_fixed_cost(
        args.images, max(1, args.images * 15 // 70), args.size, args.threads
    )
    print("fixed cost", json.dumps(report["fixed_cost"]), flush=True)
    report["jitter"] = [bench_jitter(n, args.size, args.rounds) for n in (4, 32)]
    for row in report["jitter"]:
        print("jitter", json.dumps(row), flush=True)
    configs = {"demo": WganGpConfig(img_size=64, features_g=8, features_d=8)}
    if args.full_critic:
        configs["full"] = WganGpConfig(img_size=256)
    report["critic"] = [bench_critic(k, replace(c, seed=42), args.rounds) for k, c in configs.items()]
    for row in report["critic"]:
        print("critic", json.dumps(row), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
