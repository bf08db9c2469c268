"""The report's tables of what the run used and what it cost: the data set, the lesion sizes,
the rules' benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.io import read_benchmark


def dataset_table(final: dict) -> pd.DataFrame:
    splits = final["dataset_statistics"]["splits"]
    t = pd.DataFrame(splits).T.loc[[s for s in ("train", "val", "test", "all") if s in splits]]
    t = t.drop(columns=[c for c in ("images_per_lesion",) if c in t.columns])
    for col in t.columns:  # counts as integers; the transpose made every column float
        if (t[col] == t[col].round()).all():
            t[col] = t[col].astype(int)
    return t


def lesion_size_table(final: dict) -> pd.DataFrame:
    """Per split and class: how many lesion groups have 1, 2, 3, ... images."""
    rows = []
    for split, s in final["dataset_statistics"]["splits"].items():
        for cls, counts in (s.get("images_per_lesion") or {}).items():
            rows.append({"split": split, "class": cls, **{f"{k} image(s)": v for k, v in counts.items()}})
    if not rows:
        return pd.DataFrame()
    t = pd.DataFrame(rows).set_index(["split", "class"]).fillna(0).astype(int)
    return t[sorted(t.columns, key=lambda c: int(c.split()[0]))]


def benchmark_table(files: list[str]) -> pd.DataFrame:
    """Time and peak memory of each rule, from Snakemake's benchmark files: the rule, its
    wildcards (from the file name), seconds, max RSS in MB, and CPU seconds."""
    rows = []
    for f in files:
        path = Path(f)
        b = read_benchmark(path)
        # results/benchmarks/<rule>.tsv or results/benchmarks/<rule>/<job>.tsv, where the job may
        # hold a slash of its own (the timm/<name> architectures)
        parts = path.with_suffix("").parts
        rest = parts[len(parts) - 1 - parts[::-1].index("benchmarks") + 1 :]
        rule, job = rest[0], "/".join(rest[1:])
        rss = np.nan if b["max_rss_mb"] is None else b["max_rss_mb"]
        rows.append(
            {
                "rule": rule,
                "job": job,
                "seconds": b["seconds"],
                "max RSS (MB)": rss,
                "CPU seconds": b["cpu_seconds"],
            }
        )
    t = pd.DataFrame(rows)
    return t.sort_values("seconds", ascending=False).reset_index(drop=True) if len(t) else t
