"""What many tests share: the repository's paths and running the project's console scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, recall_score

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SNAKEFILE = str(REPO / "workflow" / "Snakefile")
DEMO = str(REPO / "config" / "demo.yaml")
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script from the running interpreter's environment (the project's venv)."""
    exe = BIN / name
    return str(exe) if exe.exists() else (shutil.which(name) or name)


# pytest-xdist runs one worker per core, so each worker's share is its core. Torch's OpenMP
# threads wait for each other at every operation, so two workers that each run two threads on two
# cores do not share them: they stall (the demo's GAN step ran 30x slower than alone, and the demo
# test timed out in CI). conftest.py gives each worker's own torch and environment its share;
# this gives it to the Snakemake runs, whose jobs take min(rule threads, --cores) threads.
CORES_EACH = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def rule_threads() -> dict[str, int]:
    """Every rule of the workflow with the threads it declares (1 where it declares none)."""
    import re

    out = {}
    for f in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=\s*(?:rule|checkpoint) \w+:)", f.read_text(), flags=re.M):
            name = re.match(r"\s*(?:rule|checkpoint) (\w+):", block)
            if name:
                threads = re.search(r"^\s+threads:\s*(\d+)\s*$", block, re.M)
                out[name.group(1)] = int(threads.group(1)) if threads else 1
    # `use rule a as b with:` (another generator's rules) keeps a's threads
    for f in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for a, b in re.findall(r"^use rule (\w+) as (\w+)", f.read_text(), flags=re.M):
            out[b] = out[a]
    return out


def share_cores(cmd: list[str]) -> list[str]:
    """``cmd`` with any ``--cores N`` lowered to this worker's share."""
    out = list(cmd)
    for i in range(len(out) - 1):
        if out[i] == "--cores" and out[i + 1].isdigit():
            out[i + 1] = str(min(int(out[i + 1]), CORES_EACH))
    return out


def run(cmd: list[str], cwd: Path = REPO, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(share_cores(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Snakemake on the project's Snakefile in ``workdir`` (no config/config.yaml there, so only
    the --configfile given is used, merged over the schema's defaults)."""
    return run([tool("snakemake"), "-s", SNAKEFILE, "-d", str(workdir), *args], cwd=workdir, timeout=timeout)


def random_features(rng, n, d, shift=0.0, scale=1.0):
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(shift, scale, size=(n, d)) @ mix).astype(np.float64)


def standin_fid_weights(tmp_path):
    """A stand-in for the FID Inception file: the architecture's state dict at a seeded init."""
    from ganaug.evaluation.features import fid_inception_architecture
    from ganaug.models.registry import FID_INCEPTION as FID_WEIGHTS

    torch.manual_seed(0)
    net = fid_inception_architecture()
    # non-trivial batch-norm statistics, so a mix-up of layers would show
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    folder = tmp_path / "cache" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(net.state_dict(), folder / FID_WEIGHTS.name)
    return tmp_path / "cache"


def sk_metrics(y, prob, pred) -> dict[str, float]:
    """The compared metrics by scikit-learn, the independent route."""
    return {
        "sensitivity": recall_score(y, pred, zero_division=0),
        "specificity": recall_score(1 - np.asarray(y), 1 - np.asarray(pred), zero_division=0),
        "f1": f1_score(y, pred, zero_division=0),
        "pr_auc": average_precision_score(y, prob),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
    }


def open_in_chromium(html: Path) -> dict:
    """Load a report in Debian's headless Chromium: its problems (script errors, error messages
    on the console, failed requests), its images (and how many failed to decode), its figures'
    alt texts and captions, and its text. Skips where Chromium is missing, unless
    GANAUG_REQUIRE_BROWSER=1 (.ci/run) makes that a failure."""
    import pytest

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("GANAUG_REQUIRE_BROWSER") == "1":
            raise AssertionError("chromium is required (GANAUG_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            tab = browser.new_page()
            problems: list[str] = []
            tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            tab.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            tab.goto(Path(html).resolve().as_uri(), wait_until="load")
            return {
                "problems": problems,
                "n_images": tab.evaluate("document.images.length"),
                "broken": tab.evaluate(
                    "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
                ),
                "alts": tab.evaluate("Array.from(document.querySelectorAll('figure img')).map(i => i.alt)"),
                "captions": tab.evaluate("document.querySelectorAll('figure figcaption').length"),
                "text": tab.inner_text("body"),
            }
        finally:
            browser.close()


def conditions_with_the_ddpm() -> dict:
    """A condition table: the default one plus a ddpm_curated like the demo's."""
    from ganaug.config import validate_config

    ddpm = {"synthetic": "curated", "n_synthetic": 10, "real_minority": True, "augment": False}
    ddpm["generator"] = "ddpm"
    return {**validate_config({})["classifier"]["conditions"], "ddpm_curated": ddpm}


def planned_jobs(out: str) -> list[dict]:
    """The jobs of a dry run's output: rule, inputs, outputs and wildcards of each."""
    jobs, job = [], None
    for line in out.splitlines():
        s = line.strip()
        if s.startswith(("rule ", "localrule ")) and s.endswith(":"):
            job = {"rule": s.split()[1][:-1], "input": [], "output": [], "wildcards": {}}
            jobs.append(job)
        elif job is not None and s.startswith(("input: ", "output: ")):
            key, _, rest = s.partition(": ")
            job[key] = [p.strip() for p in rest.split(",")]
        elif job is not None and s.startswith("wildcards: "):
            for kv in s[len("wildcards: ") :].split(", "):
                k, _, v = kv.partition("=")
                job["wildcards"][k] = v
    return jobs


def every_score_is_possible(results: Path) -> int:
    """mlscorecheck (not ours) on every fit's metrics.json under ``results``: each decision's
    accuracy, sensitivity, specificity, balanced accuracy, F1 and precision, in distribution and
    on each external set, must come from one confusion matrix of the test set that the
    predictions.csv beside it holds (its own positives and negatives), to float precision.
    Returns how many score sets were checked."""
    import json
    import logging

    import pandas as pd
    from mlscorecheck.check.binary import check_1_testset_no_kfold

    logging.getLogger("mlscorecheck").setLevel(logging.WARNING)
    names = {"accuracy": "acc", "recall": "sens", "specificity": "spec", "balanced_accuracy": "bacc",
             "f1": "f1", "precision": "ppv"}  # fmt: skip
    checked = 0
    for path in sorted(results.rglob("seed_*/metrics.json")):
        m = json.loads(path.read_text())
        sets = {"in_distribution": (m, path.parent / "predictions.csv")}
        sets |= {n: (b, path.parent / "external" / n / "predictions.csv") for n, b in m["external"].items()}
        for name, (block, preds) in sets.items():
            target = pd.read_csv(preds)["target"]
            p, n = int(target.sum()), int((target == 0).sum())
            for decision in ("argmax", "tuned"):
                scores = {names[k]: v for k, v in block[decision].items() if k in names and v is not None}
                res = check_1_testset_no_kfold(testset={"p": p, "n": n}, scores=scores, eps=1e-9)
                assert not res["inconsistency"], (str(path), name, decision, scores, p, n)
                checked += 1
    return checked
