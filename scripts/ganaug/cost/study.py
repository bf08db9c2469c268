"""The study's GPU stages from a validated config: every job, what each step of it is, and how
many steps it runs.

Image counts are an archive's two classes (ISIC 2019's 12,875 NV and 239 DF by default) through
the config's split. Fits stop early, so their epochs are an assumption the report states (best
epoch 10 plus ``classifier.patience``; ``max`` for the bound).
"""

from __future__ import annotations

from typing import Any

from ganaug.cost import hardware as hw
from ganaug.cost import steps
from ganaug.cost.model import Rates, Stage, Work, project
from ganaug.generators import in_use
from ganaug.io import write_json

# ISIC 2019's training archive (its ground truth): the study's two classes
ISIC2019 = {"NV": 12875, "DF": 239}
EVAL_BATCH = 128  # the classifiers' prediction batch (classifier.eval_batch_size's default)
FEATURE_BATCH = 64  # the LPIPS and Inception passes' batch


def split_counts(cfg: dict, nv: int, df: int) -> dict[str, dict[str, int]]:
    s = cfg["data"]["split"]
    return {sp: {"NV": round(nv * s[sp]), "DF": round(df * s[sp])} for sp in ("train", "val", "test")}


def classifier_precision(cls: dict) -> str:
    """What a fit computes in on a GPU: bf16 autocast (``bf16: true``, or ``auto``, the default,
    which is bf16 on CUDA), else TF32 or fp32 by ``classifier.tf32``."""
    if cls.get("bf16", "auto") in (True, "auto"):
        return "bf16"
    return "tf32" if cls.get("tf32", True) else "fp32"


def fit_stages(cfg: dict, counts: dict, epochs: int) -> list[Stage]:
    """Every (architecture, condition): repeats x seeds fits of ``epochs`` epochs, each epoch a
    pass over its training set and a validation pass, then the val and test predictions."""
    data, cls = cfg["data"], cfg["classifier"]
    repeats = data["split"]["repeats"]
    conditions = {
        k: v for k, v in cls["conditions"].items() if not (v.get("extra_real_to") and not _extra(data))
    }
    prec = classifier_precision(cls)
    val = sum(counts["val"].values())
    test = sum(counts["test"].values())
    out = []
    for arch in cls["archs"]:
        st = steps.classifier_steps(arch, data["image_size"], cls["batch_size"], EVAL_BATCH)
        like = arch if arch in hw.ANCHORS else "resnet50"
        for name, cond in conditions.items():
            n_train = counts["train"]["NV"] + _minority(cond, counts["train"]["DF"], conditions)
            train_steps = epochs * -(-n_train // cls["batch_size"])
            eval_batches = epochs * -(-val // EVAL_BATCH) + -(-val // EVAL_BATCH) + -(-test // EVAL_BATCH)
            work = [
                Work(st["train_step"], train_steps, prec, like),
                Work(st["predict_batch"], eval_batches, prec, like),
            ]
            out.append(
                Stage(
                    f"fit {arch} / {name}",
                    f"fit {arch}",
                    repeats * len(cls["seeds"]),
                    work,
                    host_s=hw.FIT_HOST_S,
                )
            )
    out[-1].on_chain = True
    return out


def generator_stages(cfg: dict, fam, counts: dict) -> list[Stage]:
    """One generator family's training, sampling, curation features and metrics in every repeat."""
    from ganaug.cost.budget import budgeted_settings

    repeats, size = cfg["data"]["split"]["repeats"], cfg["data"]["image_size"]
    settings = budgeted_settings(fam, cfg)  # at the length budget.gpu_hours gives it, where set
    n_syn = settings.n_samples
    train, sample = fam.cost(settings, repeats)
    tf32 = "tf32" if cfg["curation"].get("tf32", True) else "fp32"
    metric_prec = "tf32" if cfg["evaluation"].get("tf32", True) else "fp32"
    lpips_batches = -(-(n_syn + counts["train"]["DF"]) // FEATURE_BATCH)
    metric_batches = -(-(n_syn * 2 + counts["train"]["DF"] + counts["val"]["DF"]) // FEATURE_BATCH)
    tag = "" if fam.study else f" {fam.name}"
    lpips = Stage(
        f"curate_lpips{tag}",
        f"curate_lpips{tag}",
        repeats,
        [Work(steps.feature_pass("vgg16", size, FEATURE_BATCH), lpips_batches, tf32)],
        host_s=hw.LPIPS_HOST_S,
    )
    metrics = Stage(
        f"gan_metrics{tag}",
        f"gan_metrics{tag}",
        repeats,
        [Work(steps.feature_pass("inception", size, FEATURE_BATCH), metric_batches, metric_prec)],
        host_s=hw.METRICS_HOST_S,
    )
    out = [train, sample, lpips, metrics]
    if cfg["snapshots"]["select"] == "kid_val":
        out.insert(1, snapshot_stage(cfg, tag, sample, n_syn, counts["val"]["DF"], metric_prec))
    for s in out[:-1]:  # a repeat's chain runs through each generator's branch
        s.on_chain, s.branch = True, fam.name
    return out


def snapshot_stage(cfg: dict, tag: str, sample: Stage, n_syn: int, n_val: int, prec: str) -> Stage:
    """``snapshots.select: kid_val`` (generators/snapshots.py): each of ``count`` snapshots samples
    ``draws`` sets of as many images as there are val DF images, through the family's own sampler
    (so its steps are the sampling stage's, scaled by the images), and every image and the val
    images go through the metrics' feature network once."""
    snap = cfg["snapshots"]
    scored = snap["count"] * snap["draws"] * n_val
    scale = scored / n_syn
    work = [Work(w.step, w.count * scale, w.precision, w.like) for w in sample.work]
    work.append(
        Work(
            steps.feature_pass("inception", cfg["data"]["image_size"], FEATURE_BATCH),
            -(-(scored + n_val) // FEATURE_BATCH),
            prec,
        )
    )
    return Stage(
        f"select_snapshot{tag}", f"select_snapshot{tag}", sample.jobs, work, host_s=sample.host_s * scale
    )


def stages(cfg: dict, nv: int = ISIC2019["NV"], df: int = ISIC2019["DF"], epochs: int = 20) -> list[Stage]:
    """Every GPU stage of the study ``cfg`` (validated), plus decode_split, on the repeat's chain."""
    counts = split_counts(cfg, nv, df)
    repeats = cfg["data"]["split"]["repeats"]
    decode = sum(sum(c.values()) for c in counts.values()) / 3 / hw.DECODE_PER_S
    out = [Stage("decode_split", "decode_split", repeats * 3, [], host_s=decode, on_chain=True)]
    out += fit_stages(cfg, counts, epochs)
    for fam in in_use(cfg["classifier"]["conditions"]):
        out += generator_stages(cfg, fam, counts)
    return out


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


def summary(st: list[Stage], rates_of, n_gpus: int, jobs_per_device: int) -> dict[str, Any]:
    """Per kind of job (fits per architecture, each generator's stages, curation, metrics): jobs,
    PFLOP, Mops, GPU, host and job hours at every case, and the projections."""
    kinds: dict[str, list[Stage]] = {}
    for s in st:
        kinds.setdefault(s.kind, []).append(s)
    rows = []
    for kind, ss in kinds.items():
        row: dict[str, Any] = {
            "stage": kind,
            "jobs": sum(s.jobs for s in ss),
            "pflop": round(sum(s.jobs * s.flops for s in ss) / 1e15, 1),
            "mega_ops": round(sum(s.jobs * s.ops for s in ss) / 1e6, 1),
        }
        for case in hw.CASES:
            r = rates_of(case)
            row[case] = {
                "gpu_hours": round(sum(s.jobs * s.gpu_seconds(r) for s in ss) / 3600, 3),
                "host_hours": round(sum(s.jobs * s.host_seconds(r) for s in ss) / 3600, 3),
                "job_hours": round(sum(s.jobs * s.job_seconds(r) for s in ss) / 3600, 3),
            }
        rows.append(row)
    proj = {
        case: {
            "one_gpu": project(st, rates_of(case), 1, 1),
            "one_gpu_shared": project(st, rates_of(case), 1, jobs_per_device),
            "slurm": project(st, rates_of(case), n_gpus, 1),
        }
        for case in hw.CASES
    }
    return {"stages": rows, "projection": proj}


def apply_measured(st: list[Stage], seconds_per_step: dict[str, float]) -> list[str]:
    """A GPU's measured seconds a step in place of the model's, for each kind named (``fit
    resnet50``: a training step; a generator's training stage: its unit, an iteration or a step): the kinds
    it applied to."""
    used = []
    for s in st:
        if s.kind in seconds_per_step and s.work:
            s.work[0].measured_s = seconds_per_step[s.kind]
            used.append(s.kind)
    return sorted(set(used))


def plan_cost(cfg: dict, nv: int = ISIC2019["NV"], df: int = ISIC2019["DF"]) -> dict[str, Any]:
    """What the planner needs of the cost model: per kind of job its hours on one H100 (one job
    at a time) at each case, and what it scales with when the design changes (fits: repeats x
    seeds; every other stage: repeats, since each repeat decodes, trains, samples and curates on
    its own). Epochs as ``study_cost.py`` assumes by default (the best epoch 10 + patience)."""
    cls = cfg["classifier"]
    epochs = min(10 + cls["patience"], cls["max_epochs"])
    st = stages(cfg, nv, df, epochs)
    rows = summary(st, lambda case: Rates(hw.H100, case, None), 1, 1)["stages"]
    return {
        "gpu": hw.H100.name,
        "counts": {"NV": nv, "DF": df},
        "epochs_per_fit": epochs,
        "repeats": cfg["data"]["split"]["repeats"],
        "seeds": len(cls["seeds"]),
        "stages": [
            {
                "stage": r["stage"],
                "jobs": r["jobs"],
                "scales_with": "repeats x seeds" if r["stage"].startswith("fit ") else "repeats",
                "job_hours": r["expected"]["job_hours"],
                "job_hours_range": [r[c]["job_hours"] for c in hw.CASES],
            }
            for r in rows
        ],
    }


def plan_cost_rule(cfg: dict, output: str) -> dict[str, Any]:
    """The rule plan_cost: results/plan/cost.json (``cfg``: the workflow's config, validated and
    completed when the workflow was parsed)."""
    out = plan_cost(cfg)
    write_json(out, output)
    return out
