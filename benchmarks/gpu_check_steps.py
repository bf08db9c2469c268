"""The measuring steps of benchmarks/gpu_check.sh (see gpu_check.py): each takes its Record, the
device and whether this is the CPU smoke run, and sets each figure as soon as it has it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml
from gpu_check import ROOT, Record, sync

from ganaug.data.provenance import MinorityTrainSet
from ganaug.dataclass_io import as_dict
from ganaug.generators.ddpm.config import DdpmConfig
from ganaug.generators.loop import GeneratorOutputs
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.training import _Trainer
from ganaug.runtime import set_tf32

NOWHERE = GeneratorOutputs.in_folder("/nonexistent")
CPU = torch.device("cpu")


def study(section: str) -> dict:
    """A section of config/config.yaml as written (read without the schema: its defaults are
    the dataclasses')."""
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())[section]


def gan_config(smoke: bool) -> WganGpConfig:
    if smoke:
        return WganGpConfig(img_size=32, features_g=4, features_d=4, batch_size=4, log_interval=1)
    return WganGpConfig.from_section({k: v for k, v in study("gan").items() if k != "cuda_graph"}, 256, 42)


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def train_set(cfg, n: int = 64) -> MinorityTrainSet:
    return MinorityTrainSet([f"ISIC_{i:07d}" for i in range(n)], images(n, cfg.img_size))


def iteration(t: _Trainer) -> None:
    for _ in range(t.cfg.n_critic):
        d = t.critic_step()
    t.accumulate(d, t.generator_step())


def _timed(step, n: int, warm: int, device: torch.device) -> float:
    """Seconds a call of ``step`` after ``warm`` untimed ones, over ``n``."""
    for _ in range(warm):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return (time.perf_counter() - t0) / n


def gan_step(rec: Record, device: torch.device, smoke: bool) -> None:
    """Generator iterations a second at the study's size: eager TF32, eager bf16 forwards, and the
    critic step replayed from its CUDA graph (gan.cuda_graph, the study config's); then eager
    against replayed from one initialisation, and one DiffAugment iteration."""
    from ganaug.generators.wgan_gp.cost import gan_steps

    cfg = gan_config(smoke)
    critic, gen = gan_steps(cfg)
    flops = (critic.times(cfg.n_critic) + gen).total_flops
    n, warm = (2, 1) if smoke else (15, 4)  # the graph is captured at the 4th critic step
    for name, c in (
        ("tf32", cfg),
        ("bf16", replace(cfg, bf16=True)),
        ("tf32_cuda_graph", replace(cfg, cuda_graph=True)),
    ):
        t = _Trainer(c, train_set(c), NOWHERE, device)
        s = _timed(lambda t=t: iteration(t), n, warm, device)
        captured = t.captured is not None and t.captured.graph is not None
        rec[name] = {
            "seconds_per_iteration": round(s, 5),
            "iterations_per_second": round(1 / s, 2),
            "achieved_tflops": round(flops / s / 1e12, 2),
            "minutes_for_50000": round(50_000 * s / 60, 1),
            "captured": captured,
            "capture_failed": getattr(t.captured, "failed", None),
        }
    rec["cuda_graph_vs_eager"] = _graph_against_eager(cfg, device, 2 if smoke else 10)
    t = _Trainer(replace(cfg, diffaugment="color,translation,cutout"), train_set(cfg), NOWHERE, device)
    iteration(t)
    rec["diffaugment_finite"] = bool(torch.isfinite(t.window).all())


def _graph_against_eager(cfg: WganGpConfig, device: torch.device, n: int) -> dict:
    """n iterations from one initialisation and one stream, eager and replayed: the losses and
    the generator's weights (capturable Adam rounds differently: close, not equal)."""
    runs = {}
    for name, c in (("eager", cfg), ("graph", replace(cfg, cuda_graph=True))):
        t = _Trainer(c, train_set(c), NOWHERE, device)
        for _ in range(n):
            iteration(t)
        runs[name] = (t.window.cpu() / n, {k: v.float().cpu() for k, v in t.gen.state_dict().items()})
    (la, wa), (lb, wb) = runs["eager"], runs["graph"]
    scale = max(float(v.abs().max()) for v in wa.values())
    return {
        "iterations": n,
        "loss_max_abs_diff": float((la - lb).abs().max()),
        "generator_max_rel_diff": max(float((wa[k] - wb[k]).abs().max()) for k in wa) / scale,
    }


def precision(rec: Record, device: torch.device, smoke: bool) -> None:
    """n iterations from one initialisation in full fp32, TF32 and bf16: how far the cheaper
    arithmetic moves the losses and the generator."""
    cfg = gan_config(smoke)
    n = 3 if smoke else 100
    rec["iterations"] = n
    ref = None
    for name, c in (("fp32", replace(cfg, tf32=False)), ("tf32", cfg), ("bf16", replace(cfg, bf16=True))):
        t0 = time.perf_counter()
        t = _Trainer(c, train_set(c), NOWHERE, device)
        losses = []
        for _ in range(n):
            iteration(t)
            losses.append(t.window.clone())
            t.window.zero_()
        sync(device)
        hist = torch.stack(losses).float().cpu()
        w = {k: v.detach().float().cpu() for k, v in t.gen.state_dict().items()}
        row = {"seconds": round(time.perf_counter() - t0, 2), "final_loss_d": float(hist[-1, 0])}
        if ref is None:
            ref = (hist, w)
        else:
            scale = max(float(v.abs().max()) for v in ref[1].values())
            row["generator_max_rel_diff_vs_fp32"] = (
                max(float((w[k] - ref[1][k]).abs().max()) for k in w) / scale
            )
            row["loss_d_mean_abs_diff_vs_fp32"] = float((hist[:, 0] - ref[0][:, 0]).abs().mean())
        rec[name] = row


RESUME_DRIVER = """
import sys, torch
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, {scripts!r}); sys.path.insert(0, {bench!r})
from gpu_check_steps import gan_config, train_set
from ganaug.runtime import configure_runtime, select_device
from ganaug.generators.loop import GeneratorOutputs
from ganaug.generators.wgan_gp.training import train_gan
configure_runtime({{"deterministic": True}})
dev = select_device({device!r})
cfg = replace(gan_config(True), img_size=64, features_g=8, features_d=8, batch_size=8, total_iterations={n},
              checkpoint_interval=5, sample_interval=10**6, log_interval=5)
root = Path({root!r})
out = GeneratorOutputs.in_folder(root)
train_gan(cfg, train_set(cfg), out, dev, progress=False)
"""


def _python(template: str, **kw) -> subprocess.Popen:
    code = template.format(scripts=str(ROOT / "scripts"), bench=str(ROOT / "benchmarks"), **kw)
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _rows(text: str) -> list[dict]:
    """The JSON lines a driver printed (warnings may come between them)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def resume(rec: Record, device: torch.device, smoke: bool) -> None:
    """SIGTERM after the first checkpoint, then resume, against an uninterrupted run (both with
    deterministic: true): the generator's largest difference."""
    n = 20 if smoke else 60
    rec["iterations"] = n
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def start(sub: str) -> subprocess.Popen:
            return _python(RESUME_DRIVER, device=device.type, n=n, root=str(root / sub))

        ref = start("ref")
        assert ref.wait(timeout=200) == 0, ref.stdout.read()[-2000:]
        run = start("run")
        t0 = time.monotonic()
        while not (root / "run" / "last.pt").exists():
            assert run.poll() is None and time.monotonic() - t0 < 100, "no checkpoint appeared"
            time.sleep(0.01)
        run.send_signal(signal.SIGTERM)
        rec["sigterm_exit_code"] = run.wait(timeout=60)
        rec["stopped_at"] = int(torch.load(root / "run" / "last.pt", weights_only=True)["iteration"])
        again = start("run")
        assert again.wait(timeout=200) == 0, again.stdout.read()[-2000:]
        a = torch.load(root / "ref" / "generator.pt", weights_only=True)["state_dict"]
        b = torch.load(root / "run" / "generator.pt", weights_only=True)["state_dict"]
        rec["max_abs_diff"] = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
        rec["bit_identical"] = rec["max_abs_diff"] == 0.0


def _variants(device: torch.device):
    """(name, TF32 on, bf16) of the device runs compared with the CPU's fp32."""
    return (
        (("fp32", False, False), ("tf32", True, False), ("bf16", True, True))
        if device.type == "cuda"
        else (("fp32", False, False),)
    )


def agreement(rec: Record, device: torch.device, smoke: bool) -> None:
    """The device's numbers against the CPU's (fp32) on the same inputs and weights, and what the
    differences would flip: a classifier's decisions, a generator's quantised pixels, the LPIPS
    filter at curation.lpips_min, and Inception pool features (random-init networks, labelled:
    no pretrained file travels)."""
    from ganaug.models.classifiers import create_classifier
    from ganaug.training.classifier import predict

    size = 32 if smoke else 256
    torch.manual_seed(0)
    model = create_classifier("resnet50", "random", 2).eval()
    x = images(16 if smoke else 32, size, 1)
    p_cpu = predict(model, x, CPU, 16)
    cut = float(np.median(p_cpu))  # a threshold where decisions are densest: the worst case for flips
    rows = {}
    for name, tf32, bf16 in _variants(device):
        set_tf32(tf32)
        p = predict(model.to(device), x, device, 16, bf16)
        rows[name] = {
            "max_abs_diff": float(np.abs(p - p_cpu).max()),
            "flips_at_0.5": int(((p >= 0.5) != (p_cpu >= 0.5)).sum()),
            "flips_at_median": int(((p >= cut) != (p_cpu >= cut)).sum()),
        }
        model.to(CPU)
    rec["classifier_probabilities"] = {"images": len(x), "network": "ResNet-50, random init", **rows}
    rec["generator_pixels"] = _generator_agreement(device, size)
    rec["lpips"] = _lpips_agreement(device, size, smoke)
    rec["inception_pool"] = _inception_agreement(device, size)
    set_tf32(True)


def _generator_agreement(device: torch.device, size: int) -> dict:
    from ganaug.generators.wgan_gp.training import build_models

    gen = build_models(WganGpConfig(img_size=size))[0].eval()
    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = gen(z)
    rows = {}
    for name, tf32, _ in _variants(device)[:2]:
        set_tf32(tf32)
        with torch.no_grad():
            out = gen.to(device)(z.to(device)).cpu()
        gen.to(CPU)
        q = lambda a: ((a + 1) * 127.5).round().clamp(0, 255)  # noqa: E731 - the sampling rule's quantisation
        rows[name] = {
            "max_abs_diff_grey_levels": float((out - ref).abs().max() * 127.5),
            "pixels_changed_fraction": float((q(out) != q(ref)).float().mean()),
        }
    return rows


def _lpips_agreement(device: torch.device, size: int, smoke: bool) -> dict:
    from ganaug.curation.lpips_fast import FastLpips, build_lpips, min_lpips

    lpips_min = study("curation")["lpips_min"]
    syn, real = images(8 if smoke else 32, size, 2), images(4 if smoke else 16, size, 3)
    with tempfile.TemporaryDirectory() as tmp:
        net = build_lpips("random", tmp, seed=42)
    ref, _ = min_lpips(FastLpips(net, CPU), syn, real)
    rows = {}
    for name, tf32, _ in _variants(device)[:2]:
        set_tf32(tf32)
        d, _ = min_lpips(FastLpips(net, device), syn, real)
        d = d.float().cpu()
        diff = float((d - ref).abs().max())
        rows[name] = {
            "max_abs_diff": diff,
            "flips_at_lpips_min": int(((d > lpips_min) != (ref > lpips_min)).sum()),
            "within_diff_of_lpips_min": int(((ref - lpips_min).abs() <= diff).sum()),
        }
    return {
        "trunk": "VGG16 random init (the distances' scale is not LPIPS's)",
        "lpips_min": lpips_min,
        **rows,
    }


def _inception_agreement(device: torch.device, size: int) -> dict:
    from ganaug.evaluation.features import build_extractor

    with tempfile.TemporaryDirectory() as tmp:
        ext = build_extractor("random", tmp, seed=42)
    x = images(8, size, 4)
    ref, _ = ext(x)
    rows = {}
    for name, tf32, _ in _variants(device)[:2]:
        set_tf32(tf32)
        pool, _ = ext.to(device)(x.to(device))
        ext.to(CPU)
        rel = (pool.cpu() - ref).abs().max() / ref.abs().max()
        rows[name] = {"max_rel_diff": float(rel)}
    return {"network": "FID Inception architecture, He init (random)", **rows}


FIT_DRIVER = """
import json, sys
sys.path.insert(0, {scripts!r}); sys.path.insert(0, {bench!r})
from gpu_check_steps import fit_throughput
for arch, bf16 in {runs!r}:
    print(json.dumps(fit_throughput({device!r}, arch, {size}, {steps}, bf16, {barrier!r})), flush=True)
"""


def fit_throughput(
    device_type: str, arch: str, size: int, steps: int, bf16: bool, barrier: str | None
) -> dict:
    """The fit's own epoch (_train_epoch) over ``steps`` batches of 32 at ``size``, after 3 untimed
    batches: seconds a training step, images a second, peak GPU memory."""
    from ganaug.loss_spec import LossSpec
    from ganaug.models.classifiers import create_classifier
    from ganaug.runtime import configure_runtime, select_device
    from ganaug.settings import FitConfig
    from ganaug.training.classifier import _train_epoch, _TrainData
    from ganaug.training.losses import training_loss

    configure_runtime({"gpu_jobs_per_device": 2})
    device = select_device(device_type)
    torch.manual_seed(0)
    model = create_classifier(arch, "random", 2).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    n, batch = steps * 32, 32
    x, y = images(n, size, 5), (np.arange(n) % 20 == 0).astype(np.int64)
    data, cfg = _TrainData(x, y, device), FitConfig(batch_size=batch, bf16=bf16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    # the fit's loss: class-weighted cross-entropy (weights of one here)
    w = training_loss(LossSpec(), np.bincount(y, minlength=2).tolist(), torch.ones(2, device=device))
    g = torch.Generator().manual_seed(0)
    warm = torch.arange(min(3, steps) * batch)
    _train_epoch(model, opt, data, warm, cfg, w, g, True, device, lambda it: it)
    if barrier:  # two fits at once: both warm, then both start together
        Path(f"{barrier}.{os.getpid()}").touch()
        while not Path(f"{barrier}.go").exists():
            time.sleep(0.01)
    sync(device)
    t0 = time.perf_counter()
    _train_epoch(model, opt, data, torch.arange(n), cfg, w, g, True, device, lambda it: it)
    sync(device)
    s = (time.perf_counter() - t0) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "arch": arch,
        "bf16": bf16,
        "seconds_per_step": round(s, 5),
        "images_per_second": round(batch / s, 1),
        "peak_gpu_memory_mb": peak,
    }


def fit(rec: Record, device: torch.device, smoke: bool) -> None:
    """The three study architectures' training steps (batch 32, the fit's own epoch with the
    augmentation) in bf16, ResNet-50 in TF32 beside, two ResNet-50 fits sharing the GPU, and the
    host's cost an op (a step too small for the GPU to matter, over its dispatched ops)."""
    size, steps = (32, 2) if smoke else (256, 30)
    archs = ("resnet50", "densenet121", "efficientnet_b0")
    runs = [(a, True) for a in archs] + [("resnet50", False)]
    p = _python(FIT_DRIVER, device=device.type, size=size, steps=steps, runs=runs, barrier=None)
    rec["archs"], rec["resnet50_tf32"], other = {}, None, []
    for line in p.stdout:  # each figure as it comes
        if not line.startswith("{"):
            other.append(line)
            continue
        row = json.loads(line)
        if row["bf16"]:
            rec["archs"] = {**rec["archs"], row["arch"]: row}
        else:
            rec["resnet50_tf32"] = row
    assert p.wait() == 0, "".join(other)[-2000:]
    rec["bf16_over_tf32_resnet50"] = round(
        rec["archs"]["resnet50"]["images_per_second"] / rec["resnet50_tf32"]["images_per_second"], 2
    )
    rec["two_at_once"] = _two_at_once(device, size, steps, rec["archs"]["resnet50"]["images_per_second"])
    rec["dispatch_us"] = _dispatch_us(device)


def _two_at_once(device: torch.device, size: int, steps: int, alone: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        barrier = str(Path(tmp) / "ready")
        kw = {
            "device": device.type,
            "size": size,
            "steps": steps,
            "runs": [("resnet50", True)],
            "barrier": barrier,
        }
        both = [_python(FIT_DRIVER, **kw), _python(FIT_DRIVER, **kw)]
        t0 = time.monotonic()
        while len(list(Path(tmp).glob("ready.*"))) < 2:
            assert all(p.poll() is None for p in both) and time.monotonic() - t0 < 120, "a fit did not start"
            time.sleep(0.05)
        Path(f"{barrier}.go").touch()
        rows = []
        for p in both:
            out, _ = p.communicate(timeout=300)
            assert p.returncode == 0, out[-2000:]
            rows.append(_rows(out)[-1])
    total = sum(r["images_per_second"] for r in rows)
    return {
        "images_per_second_each": [r["images_per_second"] for r in rows],
        "total_images_per_second": total,
        "total_over_one": round(total / alone, 2),
    }


def _dispatch_us(device: torch.device) -> float:
    """The host's cost a kernel: a ResNet-50 training step at batch 2, 32 px (where the GPU waits
    for the host), less its views at the model's cost of a view, over its kernels (tallied on
    meta), as the cost model charges them (ganaug.cost.model.host_seconds)."""
    from ganaug.cost import hardware as hw
    from ganaug.cost.steps import classifier_steps
    from ganaug.models.classifiers import create_classifier

    t = classifier_steps("resnet50", 32, 2, 2)["train_step"]
    model = create_classifier("resnet50", "random", 2).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    x, y = torch.rand(2, 3, 32, 32, device=device), torch.zeros(2, dtype=torch.long, device=device)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        step()
    sync(device)
    seconds = (time.perf_counter() - t0) / 10
    views = (t.ops - t.host_kernels) * hw.VIEW_US.expected * 1e-6
    return round(max(seconds - views, 0.0) / t.host_kernels * 1e6, 2)


def _ddpm(device: torch.device, smoke: bool) -> dict:
    """diffusers on the device for the first time: the study's UNet's training step (TF32, the
    config's, and bf16), then DDIM from its EMA weights."""
    from ganaug.generators.ddpm.networks import ddim_sample
    from ganaug.generators.ddpm.training import TrainSet
    from ganaug.generators.ddpm.training import _Trainer as DdpmTrainer

    if smoke:
        cfg = DdpmConfig(
            img_size=32, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, batch_size=4,
            warmup_steps=2,
        )  # fmt: skip
    else:
        cfg = DdpmConfig.from_section(study("ddpm"), 256, 42)
    n, warm = (2, 1) if smoke else (10, 3)
    out = {}
    for name, c in (("tf32", cfg), ("bf16", replace(cfg, bf16=True))):
        t = DdpmTrainer(c, TrainSet(train_set(c, 32)), NOWHERE, device)
        s = _timed(t.step, n, warm, device)
        out[name] = {
            "seconds_per_step": round(s, 5),
            "hours_for_total_steps": round(c.total_steps * s / 3600, 2),
            "loss_finite": bool(torch.isfinite(t.window).all()),
        }
    t0 = time.perf_counter()
    noise = torch.randn(2, 3, cfg.img_size, cfg.img_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = ddim_sample(t.ema_unet(), noise.to(device), 3, as_dict(cfg))
    sync(device)
    out["ddim"] = {
        "images": 2,
        "steps": 3,
        "seconds": round(time.perf_counter() - t0, 2),
        "finite": bool(torch.isfinite(x).all()),
    }
    return out


def _stylegan2_ada(device: torch.device, smoke: bool) -> dict:
    """StyleGAN2-ADA's minibatch on the device for the first time (plain PyTorch, never run on
    CUDA): the study's paper256 settings in TF32 and bf16, its losses finite, ADA's p moved."""
    from ganaug.generators.stylegan2_ada.config import StyleGan2AdaConfig
    from ganaug.generators.stylegan2_ada.training import _Trainer as Sg2Trainer

    if smoke:
        cfg = StyleGan2AdaConfig(
            img_size=32, z_dim=8, w_dim=8, mapping_layers=2, channel_base=128, channel_max=8, mbstd_group=2,
            batch_size=4, d_reg_interval=2, g_reg_interval=2, ada_interval=1, ada_kimg=0.1,
        )  # fmt: skip
    else:
        cfg = StyleGan2AdaConfig.from_section(study("stylegan2_ada"), 256, 42)
    n, warm = (2, 1) if smoke else (4, 2)
    out = {}
    for name, c in (("tf32", cfg), ("bf16", replace(cfg, bf16=True))):
        t = Sg2Trainer(c, train_set(c, max(32, c.batch_size)), NOWHERE, device)
        it = iter(range(1, 10**6))
        s = _timed(lambda t=t, it=it: t.advance(next(it)), n, warm, device)
        out[name] = {
            "seconds_per_iteration": round(s, 5),
            "hours_for_total_iterations": round(c.total_iterations * s / 3600, 2),
            "losses_finite": bool(torch.isfinite(t.window).all()),  # every loss summed so far
            "ada_p": float(t.p),
        }
    return out


def generators(rec: Record, device: torch.device, smoke: bool) -> None:
    """The generator families other than the study's WGAN-GP (gan_step's) on the device: the
    DDPM (diffusers) and StyleGAN2-ADA, each recorded as soon as it is measured."""
    rec["ddpm"] = _ddpm(device, smoke)
    rec["stylegan2_ada"] = _stylegan2_ada(device, smoke)


def checkpoint(rec: Record, device: torch.device, smoke: bool) -> None:
    """A GAN trained on the device, its checkpoint and generator.pt loaded on the CPU as a CPU
    job would (weights_only, map_location cpu), and the CPU's samples against the device's."""
    from ganaug.generators.wgan_gp.sampling import generate, load_generator
    from ganaug.generators.wgan_gp.training import train_gan
    from ganaug.training.checkpoints import load_checkpoint

    cfg = replace(
        gan_config(True),
        img_size=64,
        features_g=8,
        features_d=8,
        batch_size=8,
        total_iterations=6,
        checkpoint_interval=3,
        sample_interval=10**6,
        log_interval=3,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = GeneratorOutputs.in_folder(tmp)
        train_gan(cfg, train_set(cfg, 16), out, device, progress=False)
        state = load_checkpoint(out.checkpoint)
        rec["checkpoint"] = {
            "iteration": state["iteration"],
            "device": state["settings"]["device"],
            "tensors_on_cpu": all(v.device == CPU for v in state["generator"].values()),
        }
        gen_cpu, _ = load_generator(out.generator, CPU)
        gen_dev, _ = load_generator(out.generator, device)
        a, b = generate(gen_cpu, list(range(8)), 42, CPU), generate(gen_dev, list(range(8)), 42, device)
        rec["samples_cpu_vs_device"] = {
            "max_abs_diff_grey_levels": int(np.abs(a.astype(int) - b).max()),
            "pixels_changed_fraction": float((a != b).mean()),
        }


def lpips(rec: Record, device: torch.device, smoke: bool) -> None:
    """curate_lpips' work at the study's size on the device: features of 210 real images, then
    632 synthetic ones (half the study's 1,264 survivors) and their smallest distances."""
    from ganaug.curation.lpips_fast import FastLpips, build_lpips, features_in_chunks, min_lpips

    n_syn, n_real, size = (8, 4, 32) if smoke else (632, 210, 256)
    with tempfile.TemporaryDirectory() as tmp:
        fast = FastLpips(build_lpips("random", tmp, seed=42), device)
    real, syn = images(n_real, size, 6), images(n_syn, size, 7)
    t0 = time.perf_counter()
    features_in_chunks(fast, real, 16)
    sync(device)
    rec["real_features_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    min_lpips(fast, syn, real)
    sync(device)
    rec["synthetic_and_distances_s"] = round(time.perf_counter() - t0, 2)
    rec["synthetic"], rec["real"] = n_syn, n_real


def snakemake(rec: Record, device: torch.device, smoke: bool) -> None:
    """One real rule through Snakemake on the device: a tiny phantom set through data, split and
    train_gan (device: cuda, so the GPU slot claim and the rule's path run on a GPU)."""
    size = 32 if smoke else 64
    cfg = {
        "device": device.type,
        "data": {
            "image_size": size,
            # the lists only: the perceptual hash (imagehash) is not on the GPU machine, and this step
            # checks train_gan's path on the device, not the data screens
            "same_lesion": {"screen": False},
            "phantom": {
                "n_minority_lesions": 14,
                "n_majority_lesions": 30,
                "n_extra_minority": 0,
                "width": 160,
                "height": 120,
            },
        },
        "gan": {
            "total_iterations": 6,
            "checkpoint_interval": 3,
            "sample_interval": 3,
            "log_interval": 1,
            "batch_size": 4,
            "features_g": 4,
            "features_d": 4,
            "n_samples": 8,
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "gpu.yaml").write_text(yaml.safe_dump(cfg))
        target = "results/repeat_0/gan/generator.pt"
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "workflow/Snakefile"),
            "-d",
            str(work),
            "--configfile",
            str(ROOT / "config/demo.yaml"),
            str(work / "gpu.yaml"),
            "--cores",
            "4",
            "--resources",
            "gpu=1",
            "--",
            target,
        ]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        rec["returncode"] = res.returncode
        log = work / "results/logs/train_gan/repeat_0.log"
        text = log.read_text() if log.is_file() else ""
        rec["train_gan_log_tail"] = text.splitlines()[-8:]
        rec["generator_written"] = (work / target).is_file()
        rec["gpu_slot_claimed"] = "GPU slot" in text
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
