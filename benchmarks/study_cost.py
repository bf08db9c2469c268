"""What the whole study costs on a GPU, projected before it is spent.

Counts, on the CPU (on torch's ``meta`` device: shapes only, nothing is computed), the FLOPs
(``FlopCounterMode``) and the dispatched aten ops (``TorchDispatchMode``) of one step of each GPU
stage at the config's sizes: a WGAN-GP iteration (n_critic critic steps with the penalty's double
backward, one generator step), a training step and a prediction batch of each classifier, and the
feature passes of the curation and GAN-metric stages. It multiplies them by the config's counts
(repeats, iterations, conditions, architectures, seeds, epochs, images) and projects wall time on a
GPU described by its peak rates, an achieved fraction of them, and a per-launch cost:

    a job's time = max(FLOPs / (peak x efficiency), ops x launch cost) + its host-side time

(a GPU runs kernels while the host queues the next ones, so the longer of the two sets the pace:
large convolutions are compute-bound, the GAN's many small kernels launch-bound). Then:

* **one GPU**, ``gpu_jobs_per_device`` jobs at a time: the GPU's compute is shared, the hosts'
  launching is not, so the study takes max(sum of compute, sum of job times / J, the longest
  chain of dependent jobs);
* **N GPUs under SLURM** (one job a GPU): max(sum of job times / N, the longest chain).

The chain is a repeat's split -> decode -> GAN -> sampling -> curation -> one fit. Image counts are
ISIC 2019's (12,875 NV, 239 DF) through the 70/15/15 split unless given. Epochs: the fits stop
early, so ``--epochs`` (default: best epoch 10, plus ``classifier.patience``) is an assumption the
output states; ``--epochs max`` gives the bound at ``classifier.max_epochs``.

    python benchmarks/study_cost.py [--config config/config.yaml] [--json benchmarks/out/study_cost.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from ganaug.config import validate_config  # noqa: E402
from ganaug.generators import DEFAULT, in_use  # noqa: E402
from ganaug.models.classifiers import arch_spec, replace_head  # noqa: E402
from ganaug.models.losses import critic_loss, generator_loss, gradient_penalty  # noqa: E402
from ganaug.settings import DdpmConfig, GanConfig  # noqa: E402
from ganaug.training.gan import _GlobalOnly, build_models  # noqa: E402

# ISIC 2019's training archive (its ground truth): the study's two classes
ISIC2019 = {"NV": 12875, "DF": 239}


@dataclass(frozen=True)
class Gpu:
    name: str
    fp32_tflops: float  # dense peak rates
    tf32_tflops: float
    bf16_tflops: float
    launch_us: float  # host time to launch one kernel (PyTorch eager: 3-5 us)
    efficiency: float  # the fraction of peak large convolutions reach

    def rate(self, precision: str) -> float:
        return {"fp32": self.fp32_tflops, "tf32": self.tf32_tflops, "bf16": self.bf16_tflops}[
            precision
        ] * 1e12


# NVIDIA's H100 SXM datasheet: 67 TFLOP/s fp32, 495 TF32 and 989 bf16 dense (sparsity doubles
# the last two; nothing here is sparse)
H100 = Gpu("H100 SXM", 67.0, 494.7, 989.4, launch_us=4.0, efficiency=0.4)


class _Counter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def count(fn) -> tuple[float, int]:
    """(FLOPs, dispatched ops) of ``fn()`` on meta tensors."""
    flops = FlopCounterMode(display=False)
    flops.mod_tracker = _GlobalOnly()  # its module hooks do not support the penalty's autograd.grad
    ops = _Counter()
    with flops, ops:
        fn()
    return float(flops.get_total_flops()), ops.ops


META = torch.device("meta")


def gan_iteration(cfg: GanConfig) -> tuple[float, int]:
    """One generator iteration as _Trainer runs it: n_critic critic steps (one critic call on
    real and fake together, the penalty, Adam), then a generator step."""
    gen, critic = (m.to(META) for m in build_models(cfg))
    # foreach: the multi-tensor Adam that torch picks for CUDA parameters (a handful of kernels
    # a step, not a dozen a parameter)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.lr_d, foreach=True)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, foreach=True)
    b = cfg.batch_size
    real = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)

    def critic_step():
        with torch.no_grad():
            fake = gen(torch.empty(b, cfg.latent_dim, device=META))
        d_real, d_fake = critic(torch.cat([real, fake])).split(b)
        gp = gradient_penalty(critic, real, fake, torch.empty(b, device=META))
        opt_d.zero_grad(set_to_none=True)
        critic_loss(d_real, d_fake, gp, cfg.lambda_gp).total.backward()
        opt_d.step()

    def generator_step():
        critic.requires_grad_(False)
        loss = generator_loss(critic(gen(torch.empty(b, cfg.latent_dim, device=META))))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        critic.requires_grad_(True)

    critic_step()  # Adam's state is created on its first step: count the steady state
    generator_step()
    fc, oc = count(critic_step)
    fg, og = count(generator_step)
    return cfg.n_critic * fc + fg, cfg.n_critic * oc + og


def ddpm_step(cfg: DdpmConfig) -> tuple[float, int]:
    """One DDPM training step as ganaug.training.diffusion runs it: the UNet's forward and
    backward at cfg.batch_size, gradient clipping, AdamW, and the EMA update."""
    from diffusers.training_utils import EMAModel

    from ganaug.training.diffusion import build_unet

    unet = build_unet(cfg.shape(), cfg.seed).to(META)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, foreach=True)
    ema = EMAModel(unet.parameters(), decay=cfg.ema_decay, foreach=True)
    b = cfg.batch_size
    x = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)
    t = torch.zeros(b, dtype=torch.long, device=META)
    labels = torch.zeros(b, dtype=torch.long, device=META) if cfg.conditional else None

    def step():
        loss = torch.nn.functional.mse_loss(unet(x, t, class_labels=labels).sample, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # per tensor here (meta tensors have no foreach kernels; CUDA's has): the op count is
        # an upper bound by a few hundred launches a step
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema.step(unet.parameters())

    step()  # AdamW's state is created on its first step: count the steady state
    return count(step)


def ddpm_sampling(cfg: DdpmConfig) -> tuple[float, int]:
    """The whole raw set: ceil(n_samples / sample_batch_size) batches of sampling_steps DDIM
    steps, each one UNet forward under no_grad (the scheduler's update is a few elementwise ops)."""
    from ganaug.training.diffusion import build_unet

    unet = build_unet(cfg.shape(), cfg.seed).to(META).eval()
    b = cfg.sample_batch_size
    x = torch.empty(b, 3, cfg.img_size, cfg.img_size, device=META)
    t = torch.zeros(b, dtype=torch.long, device=META)
    labels = torch.zeros(b, dtype=torch.long, device=META) if cfg.conditional else None
    with torch.no_grad():
        f, o = count(lambda: unet(x, t, class_labels=labels))
    n = -(-cfg.n_samples // b) * cfg.sampling_steps
    return f * n, o * n


def classifier_steps(arch: str, size: int, batch: int, eval_batch: int) -> dict[str, tuple[float, int]]:
    """One training step (forward, backward, Adam) and one prediction batch of ``arch``."""
    from ganaug.models.classifiers import _build

    spec = arch_spec(arch)
    torch.manual_seed(0)
    model = _build(spec)
    replace_head(model, spec, 2)
    model = model.to(META)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4, foreach=True)

    def train_step():
        x = torch.empty(batch, 3, size, size, device=META)
        loss = torch.nn.functional.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long, device=META))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def predict():
        with torch.no_grad():
            model(torch.empty(eval_batch, 3, size, size, device=META))

    model.train()
    train_step()
    out = {"train_step": count(train_step)}
    model.eval()
    out["predict_batch"] = count(predict)
    return out


def feature_pass(name: str, size: int, batch: int) -> tuple[float, int]:
    """A forward batch of the curation's and the GAN metrics' feature networks (random weights:
    FLOPs do not depend on them)."""
    import torchvision

    if name == "inception":
        model, size = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False), 299
    else:  # the curation's LPIPS trunk: VGG16's features (ganaug.curation.lpips_fast)
        model = torchvision.models.vgg16(weights=None).features
    model = model.to(META).eval()
    with torch.no_grad():
        return count(lambda: model(torch.empty(batch, 3, size, size, device=META)))


@dataclass
class Stage:
    name: str
    jobs: int
    flops: float  # per job
    ops: int  # per job
    precision: str
    host_s: float = 0.0  # per job: what runs on the host alone (decoding, writing)
    on_chain: bool = False  # one of them is on a repeat's critical path
    branch: str = ""  # the generator whose branch of the chain it is on ("": every branch's)

    def job_seconds(self, gpu: Gpu) -> float:
        return max(self.compute_seconds(gpu), self.ops * gpu.launch_us * 1e-6) + self.host_s

    def compute_seconds(self, gpu: Gpu) -> float:
        return self.flops / (gpu.rate(self.precision) * gpu.efficiency)


def split_counts(cfg: dict, nv: int, df: int) -> dict[str, dict[str, int]]:
    s = cfg["data"]["split"]
    return {
        split: {"NV": round(nv * s[split]), "DF": round(df * s[split])} for split in ("train", "val", "test")
    }


def stages(cfg: dict, nv: int, df: int, epochs: int) -> list[Stage]:
    data, cls = cfg["data"], cfg["classifier"]
    repeats = data["split"]["repeats"]
    counts = split_counts(cfg, nv, df)
    out = [
        Stage("decode_split", repeats * 3, 0.0, 0, "fp32",
              host_s=sum(sum(c.values()) for c in counts.values()) / 3 / DECODE_PER_S, on_chain=True),
    ]  # fmt: skip
    conditions = {
        k: v for k, v in cls["conditions"].items() if not (v.get("extra_real_to") and not _extra(data))
    }
    cls_prec = "bf16" if cls["bf16"] else "tf32"
    for arch in cls["archs"]:
        steps = classifier_steps(arch, data["image_size"], cls["batch_size"], 128)
        for name, cond in conditions.items():
            n_train = counts["train"]["NV"] + _minority(cond, counts["train"]["DF"], conditions)
            batches = -(-n_train // cls["batch_size"])
            val_batches = -(-sum(counts["val"].values()) // 128)
            test_batches = -(-sum(counts["test"].values()) // 128)
            ft, ot = steps["train_step"]
            fp, op = steps["predict_batch"]
            flops = epochs * (batches * ft + val_batches * fp) + (val_batches + test_batches) * fp
            ops = epochs * (batches * ot + val_batches * op) + (val_batches + test_batches) * op
            jobs = repeats * len(cls["seeds"])
            out.append(Stage(f"fit {arch} / {name}", jobs, flops, ops, cls_prec, host_s=FIT_HOST_S))
    out[-1].on_chain = True
    for fam in in_use(cls["conditions"]):
        out += generator_stages(cfg, fam, counts)
    return out


def _precision(settings) -> str:
    return "bf16" if settings.bf16 else "tf32" if settings.tf32 else "fp32"


def generator_stages(cfg: dict, fam, counts: dict) -> list[Stage]:
    """One generator's training, sampling, curation features and metrics in every repeat: the
    study's WGAN-GP (train_gan, sample_gan) or another family (train_<name>, sample_<name>)."""
    repeats = cfg["data"]["split"]["repeats"]
    size = cfg["data"]["image_size"]
    settings = fam.settings(cfg)
    n_syn = settings.n_samples
    if fam.name == DEFAULT:
        f_it, o_it = gan_iteration(settings)
        # the penalty's double backward, most of an iteration's FLOPs, runs outside autocast:
        # TF32 (gan.tf32) or fp32, whatever gan.bf16 does to the forwards
        gan_prec = "tf32" if settings.tf32 else "fp32"
        n_it = settings.total_iterations
        train = Stage("train_gan", repeats, f_it * n_it, o_it * n_it, gan_prec)
        sample = Stage("sample_gan", repeats, 0.0, 0, "fp32", host_s=n_syn / 500)
    else:  # the DDPM: its training steps, then DDIM sampling, which is not free
        f_st, o_st = ddpm_step(settings)
        n_st = settings.total_steps
        train = Stage(f"train_{fam.name}", repeats, f_st * n_st, o_st * n_st, _precision(settings))
        f_s, o_s = ddpm_sampling(settings)
        sample = Stage(f"sample_{fam.name}", repeats, f_s, o_s, _precision(settings), host_s=n_syn / 500)
    fi, oi = feature_pass("inception", size, 64)
    fl, ol = feature_pass("vgg16", size, 64)
    metric_batches = -(-(n_syn * 2 + counts["train"]["DF"] + counts["val"]["DF"]) // 64)
    lpips_batches = -(-(n_syn + counts["train"]["DF"]) // 64)
    tag = "" if fam.name == DEFAULT else f" {fam.name}"
    lpips = Stage(f"curate_lpips{tag}", repeats, fl * lpips_batches, ol * lpips_batches, "tf32",
                  host_s=LPIPS_HOST_S)  # fmt: skip
    metrics = Stage(f"gan_metrics{tag}", repeats, fi * metric_batches, oi * metric_batches, "tf32",
                    host_s=METRICS_HOST_S)  # fmt: skip
    for s in (train, sample, lpips):  # a repeat's chain runs through each generator's branch
        s.on_chain, s.branch = True, fam.name
    return [train, sample, lpips, metrics]


# Host-side times: ASSUMPTIONS, stated in the output (measure yours: bench_hot_loop.py gives the
# decode rate, a rule's benchmark file its wall time). decode_split's 4 threads at about 400
# PNGs of 256 px a second each (this machine: see bench_hot_loop's decode_split_once_s); what a
# fit does besides its steps (opening its arrays, building the network, writing predictions and
# figures); the CPU-side work of the curation's LPIPS and of the GAN metrics.
DECODE_PER_S = 4 * 400.0
FIT_HOST_S = 20.0
LPIPS_HOST_S = 30.0
METRICS_HOST_S = 60.0


def _extra(data: dict) -> bool:
    return any(data.get(k) is not None for k in ("extra_minority", "archive_extra")) or bool(
        (data.get("phantom") or {}).get("n_extra_minority")
    )


def _minority(cond: dict, real_df: int, conditions: dict) -> int:
    """The minority images of a condition's training set (synthetic counts as asked for)."""
    own = real_df if cond["real_minority"] else 0
    if cond.get("synthetic_count_to"):
        matched = conditions[cond["synthetic_count_to"]]
        return own + round(cond.get("synthetic_fraction", 1.0) * matched.get("n_synthetic", 0))
    if cond.get("oversample_to") or cond.get("extra_real_to"):
        matched = conditions[cond.get("oversample_to") or cond.get("extra_real_to")]
        return own + matched.get("n_synthetic", 0)
    return own + cond.get("n_synthetic", 0)


def project(st: list[Stage], gpu: Gpu, n_gpus: int, jobs_per_device: int) -> dict:
    compute = sum(s.jobs * s.compute_seconds(gpu) for s in st)
    job_time = sum(s.jobs * s.job_seconds(gpu) for s in st)
    # a repeat's chain: the shared stages, then the slowest generator's branch (the generators
    # of one repeat train, sample and curate side by side)
    branches: dict[str, float] = {}
    for s in st:
        if s.on_chain and s.branch:
            branches[s.branch] = branches.get(s.branch, 0.0) + s.job_seconds(gpu)
    chain = sum(s.job_seconds(gpu) for s in st if s.on_chain and not s.branch) + max(
        branches.values(), default=0.0
    )
    # one GPU: compute shared, hosts' launching spread over the jobs; SLURM: one job a GPU
    wall = max(compute, job_time / jobs_per_device, chain) if n_gpus == 1 else max(job_time / n_gpus, chain)
    return {
        "gpus": n_gpus,
        "jobs_per_device": jobs_per_device if n_gpus == 1 else 1,
        "compute_hours": round(compute / 3600, 2),
        "serial_job_hours": round(job_time / 3600, 2),
        "critical_chain_hours": round(chain / 3600, 2),
        "wall_hours": round(wall / 3600, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    ap.add_argument("--nv", type=int, default=ISIC2019["NV"])
    ap.add_argument("--df", type=int, default=ISIC2019["DF"])
    ap.add_argument("--epochs", default="typical", help="typical (10 + patience) | max | a number")
    ap.add_argument("--jobs-per-device", type=int, default=4, help="GPU jobs sharing the one H100")
    ap.add_argument("--slurm-gpus", type=int, default=8)
    ap.add_argument("--launch-us", type=float, default=H100.launch_us)
    ap.add_argument("--efficiency", type=float, default=H100.efficiency)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/out/study_cost.json")
    args = ap.parse_args()
    cfg = validate_config(yaml.safe_load(args.config.read_text()))
    cls = cfg["classifier"]
    epochs = {"typical": 10 + cls["patience"], "max": cls["max_epochs"]}.get(args.epochs) or int(args.epochs)
    gpu = Gpu(**{**asdict(H100), "launch_us": args.launch_us, "efficiency": args.efficiency})
    st = stages(cfg, args.nv, args.df, min(epochs, cls["max_epochs"]))
    one = project(st, gpu, 1, args.jobs_per_device)
    many = project(st, gpu, args.slurm_gpus, 1)
    report = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "gpu": asdict(gpu),
        "epochs_per_fit": min(epochs, cls["max_epochs"]),
        "epochs_assumption": args.epochs,
        "images": split_counts(cfg, args.nv, args.df),
        "assumptions": {
            "efficiency": gpu.efficiency,
            "launch_us": gpu.launch_us,
            "epochs_per_fit": f"{args.epochs}: best epoch 10 + patience"
            if args.epochs == "typical"
            else args.epochs,
            "decode_images_per_s": DECODE_PER_S,
            "fit_host_s": FIT_HOST_S,
            "curate_lpips_host_s": LPIPS_HOST_S,
            "gan_metrics_host_s": METRICS_HOST_S,
        },
        "stages": [],
        "one_gpu": one,
        "slurm": many,
    }
    by_kind: dict[str, list[Stage]] = {}
    for s in st:
        by_kind.setdefault(s.name.split(" ")[0], []).append(s)
    print(f"{'stage':<14}{'jobs':>6}{'PFLOP':>10}{'Mops':>10}{'compute h':>11}{'launch h':>10}{'job h':>8}")
    for kind, ss in by_kind.items():
        row = {
            "stage": kind,
            "jobs": sum(s.jobs for s in ss),
            "pflop": round(sum(s.jobs * s.flops for s in ss) / 1e15, 1),
            "mega_ops": round(sum(s.jobs * s.ops for s in ss) / 1e6, 1),
            "compute_hours": round(sum(s.jobs * s.compute_seconds(gpu) for s in ss) / 3600, 3),
            "launch_hours": round(sum(s.jobs * s.ops * gpu.launch_us * 1e-6 for s in ss) / 3600, 3),
            "job_hours": round(sum(s.jobs * s.job_seconds(gpu) for s in ss) / 3600, 3),
            "precision": ss[0].precision,
        }
        report["stages"].append(row)
        print(f"{kind:<14}{row['jobs']:>6}{row['pflop']:>10}{row['mega_ops']:>10}{row['compute_hours']:>11}"
              f"{row['launch_hours']:>10}{row['job_hours']:>8}")  # fmt: skip
    print(f"\n{gpu.name}, {gpu.efficiency:.0%} of peak, {gpu.launch_us} us a launch, "
          f"{report['epochs_per_fit']} epochs a fit ({args.epochs})")  # fmt: skip
    print(
        f"one GPU, {one['jobs_per_device']} jobs at a time: {one['wall_hours']} h "
        f"(compute {one['compute_hours']} h, chain {one['critical_chain_hours']} h)"
    )
    print(f"{many['gpus']} GPUs under SLURM: {many['wall_hours']} h (chain {many['critical_chain_hours']} h)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
