"""One step of benchmarks/gpu_check.sh: ``python benchmarks/gpu_check.py STEP OUTDIR [--smoke]``.

Each step writes ``OUTDIR/STEP.json`` (atomically) and nothing else; gpu_check.sh runs each under
its own timeout and rewrites the summary after every step. ``--smoke`` runs the same code on the
CPU at tiny sizes (the test suite does, so the script a lent GPU runs once is known to run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

STEPS = (
    "versions",
    "gan_step",
    "gan_compiled",
    "precision",
    "resume",
    "diffaugment",
    "fit",
    "decode",
    "lpips",
    "projection",
)


def _python(template: str, stdout=None, stderr=None, **kw) -> subprocess.Popen:
    """A driver script (``template`` filled with ``kw`` and the package paths) in its own process."""
    code = template.format(scripts=str(ROOT / "scripts"), bench=str(ROOT / "benchmarks"), **kw)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=stdout, stderr=stderr, text=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tiny_or_full(smoke: bool):
    from ganaug.settings import GanConfig

    if smoke:
        return GanConfig(img_size=32, features_g=4, features_d=4, batch_size=4, log_interval=1)
    return GanConfig(img_size=256)


def _real(cfg, n: int = 64):
    from ganaug.data.provenance import MinorityTrainSet

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, cfg.img_size, cfg.img_size), generator=g, dtype=torch.uint8)
    return MinorityTrainSet([f"ISIC_{i:07d}" for i in range(n)], x)


def versions(device: torch.device, smoke: bool) -> dict:
    import torchvision

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
    }
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        out |= {
            "name": p.name,
            "capability": f"{p.major}.{p.minor}",
            "memory_gb": round(p.total_memory / 2**30, 1),
            "cudnn": torch.backends.cudnn.version(),
            "device_count": torch.cuda.device_count(),
        }
    return out


def _bench_gan(device: torch.device, smoke: bool, compiled: bool) -> dict:
    """bench_gan_step.py: this code's step against the previous one, with achieved TFLOP/s."""
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "g.json"
        if smoke:
            args = [
                "--configs",
                "demo",
                "--precisions",
                "fp32",
                "--compile",
                "off",
                "--iterations",
                "2",
                "--rounds",
                "2",
                "--warmup",
                "1",
            ]
        else:
            args = [
                "--configs",
                "full",
                "--precisions",
                "tf32" if compiled else "tf32,bf16",
                "--compile",
                "on" if compiled else "off",
                "--iterations",
                "15",
                "--warmup",
                "3",
                "--rounds",
                "2",
            ]
        cmd = [
            sys.executable,
            str(ROOT / "benchmarks/bench_gan_step.py"),
            "--device",
            str(device.type),
            *args,
            "--no-whole-loop",
            "--json",
            str(js),
        ]
        subprocess.run(cmd, check=True, cwd=ROOT)
        return json.loads(js.read_text())


def gan_step(device: torch.device, smoke: bool) -> dict:
    return _bench_gan(device, smoke, compiled=False)


def gan_compiled(device: torch.device, smoke: bool) -> dict:
    return _bench_gan(device, smoke, compiled=not smoke)


def _train(cfg, device: torch.device, iterations: int):
    """``iterations`` generator iterations of _Trainer from the config's seed: (history, weights)."""
    from ganaug.training.gan import GanOutputs, _Trainer

    t = _Trainer(cfg, _real(cfg), GanOutputs(*(Path("/nonexistent") / n for n in "abcdefg")), device)
    losses = []
    for _ in range(iterations):
        for _ in range(cfg.n_critic):
            d = t.critic_step()
        g = t.generator_step()
        losses.append(torch.stack([d.total.detach(), g.detach()]))
    _sync(device)
    hist = torch.stack(losses).float().cpu()
    return hist, {k: v.detach().float().cpu() for k, v in t.gen.state_dict().items()}


def precision(device: torch.device, smoke: bool) -> dict:
    """200 iterations from one initialisation in full fp32, TF32 and bf16: how far the cheaper
    arithmetic moves the losses and the generator."""
    cfg = _tiny_or_full(smoke)
    n = 3 if smoke else 200
    runs = {"fp32": replace(cfg, tf32=False), "tf32": cfg, "bf16": replace(cfg, bf16=True)}
    out, ref = {"iterations": n}, None
    for name, c in runs.items():
        t = time.perf_counter()
        hist, w = _train(c, device, n)
        row = {
            "seconds": round(time.perf_counter() - t, 2),
            "final_loss_d": float(hist[-1, 0]),
            "final_loss_g": float(hist[-1, 1]),
        }
        if ref is None:
            ref = (hist, w)
        else:
            scale = max(v.abs().max() for v in ref[1].values())
            row["generator_max_rel_diff_vs_fp32"] = float(
                max((w[k] - ref[1][k]).abs().max() for k in w) / scale
            )
            row["loss_d_mean_abs_diff_vs_fp32"] = float((hist[:, 0] - ref[0][:, 0]).abs().mean())
        out[name] = row
    return out


DRIVER = """
import sys, torch
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, {scripts!r}); sys.path.insert(0, {bench!r})
from gpu_check import _tiny_or_full, _real
from ganaug.runtime import configure_runtime, select_device
from ganaug.training.gan import GanOutputs, train_gan
configure_runtime({{"deterministic": True}})
dev = select_device({device!r})
cfg = replace(_tiny_or_full({smoke}), img_size=64, features_g=8, features_d=8, batch_size=8,
              total_iterations={n}, checkpoint_interval=5, sample_interval=10**6, log_interval=5)
root = Path({root!r})
out = GanOutputs(*(root / p for p in ("last.pt", "g.pt", "h.csv", "c.png", "grid.png", "s", "tb")))
train_gan(cfg, _real(cfg), out, dev, progress=False)
"""


def resume(device: torch.device, smoke: bool) -> dict:
    """SIGTERM after the first checkpoint, then resume, against an uninterrupted run (both with
    deterministic: true): the generator's largest difference."""
    n = 20 if smoke else 60
    with tempfile.TemporaryDirectory() as tmp:

        def start(root: Path) -> subprocess.Popen:
            return _python(
                DRIVER, stderr=subprocess.PIPE, device=device.type, smoke=smoke, n=n, root=str(root)
            )

        ref = start(Path(tmp) / "ref")
        assert ref.wait(timeout=200) == 0, ref.stderr.read()
        run = start(Path(tmp) / "run")
        t0 = time.monotonic()
        while not (Path(tmp) / "run" / "last.pt").exists():
            assert run.poll() is None and time.monotonic() - t0 < 100, "no checkpoint appeared"
            time.sleep(0.01)
        run.send_signal(signal.SIGTERM)
        first = run.wait(timeout=60)
        stopped = torch.load(Path(tmp) / "run" / "last.pt", weights_only=True)["iteration"]
        again = start(Path(tmp) / "run")
        assert again.wait(timeout=200) == 0, again.stderr.read()
        a = torch.load(Path(tmp) / "ref" / "g.pt", weights_only=True)["state_dict"]
        b = torch.load(Path(tmp) / "run" / "g.pt", weights_only=True)["state_dict"]
        diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    return {
        "iterations": n,
        "sigterm_exit_code": first,
        "stopped_at": int(stopped),
        "max_abs_diff": diff,
        "bit_identical": diff == 0.0,
    }


def diffaugment(device: torch.device, smoke: bool) -> dict:
    """One DiffAugment training step; and the classifier's batched colour jitter against
    torchvision's per-image ops on this device (bit-identical on the CPU, tested)."""
    from ganaug.training.augment import draw_parameters, jitter, jitter_per_image

    cfg = replace(_tiny_or_full(smoke), diffaugment="color,translation,cutout")
    t = time.perf_counter()
    hist, _ = _train(cfg, device, 2)
    out = {"finite": bool(torch.isfinite(hist).all()), "seconds": round(time.perf_counter() - t, 2)}
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 256, 256, generator=g).to(device)
    p = draw_parameters(g, 16)
    f = [p[k].to(device) for k in ("brightness", "contrast", "saturation", "hue")]
    a, b = jitter(x, *f), jitter_per_image(x, *f)
    return out | {
        "jitter_identical": bool(torch.equal(a, b)),
        "jitter_max_abs_diff": float((a - b).abs().max()),
    }


FIT_DRIVER = """
import json, sys, time, torch
from pathlib import Path
sys.path.insert(0, {scripts!r}); sys.path.insert(0, {bench!r})
from ganaug.runtime import configure_runtime
configure_runtime({{"gpu_jobs_per_device": 2}})  # two fits may share the device
from gpu_check import _fit_seconds
print(json.dumps(_fit_seconds({device!r}, {n}, {size}, {bf16}, {epochs}, {barrier!r})), flush=True)
"""


def _fit_seconds(
    device_type: str, n: int, size: int, bf16: bool, epochs: int, barrier: str | None = None
) -> dict:
    """The real fit() on n cached images, after an untimed first fit: seconds of 1 epoch and of
    1 + ``epochs``, so set-up and the first epoch cancel out; and the peak GPU memory."""
    from ganaug.models.classifiers import create_classifier
    from ganaug.runtime import select_device
    from ganaug.settings import FitConfig
    from ganaug.training.classifier import fit

    device = select_device(device_type)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    y = (torch.arange(n) % 20 == 0).long().numpy()
    vx, vy = x[: max(4, n // 10)], y[: max(4, n // 10)]
    if barrier:  # two fits at once: both set up, then both start together
        Path(f"{barrier}.{os.getpid()}").touch()
        while not Path(f"{barrier}.go").exists():
            time.sleep(0.01)
    times = {}
    for e in (0, 1, 1 + epochs):  # 0: a first fit of one epoch, untimed (kernels chosen, caches warm)
        torch.manual_seed(0)
        model = create_classifier("resnet50", "random", 2)
        cfg = FitConfig(batch_size=32, max_epochs=max(1, e), patience=100, bf16=bf16)
        _sync(device)
        t = time.perf_counter()
        fit(model, x, y, vx, vy, cfg, [1.0, 10.0], True, 42, device, None, progress=False)
        _sync(device)
        times[e] = time.perf_counter() - t
    per_epoch = (times[1 + epochs] - times[1]) / epochs
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    # training images a second, over an epoch that includes its validation pass
    return {
        "images": n,
        "size": size,
        "bf16": bf16,
        "seconds_per_epoch": round(per_epoch, 3),
        "images_per_second": round(n / per_epoch, 1),
        "peak_gpu_memory_mb": peak,
    }


def fit_step(device: torch.device, smoke: bool) -> dict:
    """ResNet-50's fit() on 2,000 cached images at 256 px: TF32 against bf16, then two fits at once
    (two processes on one GPU, as gpu_jobs_per_device: 2 runs them)."""
    n, size, epochs = (32, 32, 1) if smoke else (2000, 256, 2)

    def start(bf16: bool, barrier: str | None = None) -> subprocess.Popen:
        kw = {"device": device.type, "n": n, "size": size, "bf16": bf16, "epochs": epochs, "barrier": barrier}
        return _python(FIT_DRIVER, stdout=subprocess.PIPE, **kw)

    def result(p: subprocess.Popen) -> dict:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, "a fit failed"
        return json.loads(out.strip().splitlines()[-1])

    out = {"tf32": result(start(False)), "bf16": result(start(True))}
    with tempfile.TemporaryDirectory() as tmp:
        barrier = str(Path(tmp) / "ready")
        both = [start(True, barrier), start(True, barrier)]
        t0 = time.monotonic()  # both set up (imports, data, slot), then released together
        while len(list(Path(tmp).glob("ready.*"))) < 2:
            assert all(p.poll() is None for p in both) and time.monotonic() - t0 < 120, "a fit did not start"
            time.sleep(0.05)
        Path(f"{barrier}.go").touch()
        pair = [result(p) for p in both]
    out["two_at_once_bf16"] = pair
    out["two_at_once_total_images_per_second"] = round(sum(r["images_per_second"] for r in pair), 1)
    out["two_at_once_over_one"] = round(
        out["two_at_once_total_images_per_second"] / out["bf16"]["images_per_second"], 2
    )
    out["bf16_over_tf32"] = round(out["bf16"]["images_per_second"] / out["tf32"]["images_per_second"], 2)
    return out


def decode(device: torch.device, smoke: bool) -> dict:
    """bench_hot_loop's fixed-cost part: decoding by the fit against the split arrays."""
    from bench_hot_loop import bench_fixed_cost

    n = 40 if smoke else 1000
    return bench_fixed_cost(n, max(1, n * 15 // 70), 64 if smoke else 256, min(16, os.cpu_count() or 1))


def lpips(device: torch.device, smoke: bool) -> dict:
    """curate_lpips' work at the study's size: features of 210 real and 1,264 synthetic images and
    their distances, on the device."""
    from ganaug.curation.lpips_fast import FastLpips, build_lpips, features_in_chunks

    n_syn, n_real, size = (8, 4, 32) if smoke else (1264, 210, 256)
    with tempfile.TemporaryDirectory() as tmp:
        fast = FastLpips(build_lpips("random", tmp, seed=42), device)
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (n_real, 3, size, size), generator=g, dtype=torch.uint8)
    syn = torch.randint(0, 256, (n_syn, 3, size, size), generator=g, dtype=torch.uint8)
    t = time.perf_counter()
    real_f = features_in_chunks(fast, real, 16)
    t_real = time.perf_counter() - t
    t = time.perf_counter()
    block = fast.empty(16, size)
    for s in range(0, n_syn, 16):
        part = syn[s : s + 16]
        features_in_chunks(fast, part, 16, out=block)
        fast.distances(block.rows(0, len(part)), real_f).min(dim=1)
    _sync(device)
    return {
        "synthetic": n_syn,
        "real": n_real,
        "real_features_s": round(t_real, 2),
        "synthetic_and_distances_s": round(time.perf_counter() - t, 2),
    }


def projection(device: torch.device, smoke: bool, out_dir: Path) -> dict:
    """study_cost.py with the rates this check measured: the TF32 fit's achieved fraction of the
    TF32 peak (the config's classifiers run TF32), and the uncompiled TF32 GAN step's time per
    dispatched op as the launch cost (an upper bound: it includes the compute)."""
    from study_cost import H100, classifier_steps, gan_iteration

    from ganaug.settings import GanConfig

    args = [
        sys.executable,
        str(ROOT / "benchmarks/study_cost.py"),
        "--json",
        str(out_dir / "study_cost.json"),
    ]
    measured = {}
    fit, gan = _load(out_dir, "fit"), _load(out_dir, "gan_step")
    if fit and not smoke:
        flops, _ = classifier_steps("resnet50", 256, 32, 128)["train_step"]
        tflops = flops / 32 * fit["tf32"]["images_per_second"] / 1e12
        measured["efficiency"] = round(min(1.0, tflops / H100.tf32_tflops), 3)
        args += ["--efficiency", str(measured["efficiency"])]
    runs = [r for r in (gan or {}).get("runs", []) if r["precision"] == "tf32" and not r["compile"]]
    if runs and not smoke:
        _, ops = gan_iteration(GanConfig(img_size=256))
        measured["launch_us"] = round(1e6 / runs[0]["iterations_per_second"] / ops, 2)
        args += ["--launch-us", str(measured["launch_us"])]
    subprocess.run(args, check=True, cwd=ROOT)
    return {"measured": measured, "study_cost": json.loads((out_dir / "study_cost.json").read_text())}


def _load(out_dir: Path, name: str) -> dict | None:
    p = out_dir / f"{name}.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text()).get("result")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("step", choices=STEPS)
    ap.add_argument("out", type=Path)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no CUDA device (use --smoke for the CPU run)")
    fn = {"fit": fit_step}.get(args.step) or globals()[args.step]
    t = time.perf_counter()
    result = fn(device, args.smoke, args.out) if args.step == "projection" else fn(device, args.smoke)
    record = {"step": args.step, "seconds": round(time.perf_counter() - t, 2), "result": result}
    tmp = args.out / f".{args.step}.json.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, args.out / f"{args.step}.json")
    print(json.dumps(record)[:2000])


if __name__ == "__main__":
    main()
