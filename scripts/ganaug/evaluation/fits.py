"""The inputs of every comparison: the fits (identity, test predictions, training-set fingerprint),
read from the files the fit rule writes, the lesion groups of a test set, and the fits of one
test set with its groups per repeat. A fit that would be lost (no ``repeat``, or two fits with
one identity) is an error naming its files, never a silent overwrite."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.data.splits import lesion_groups


@dataclass(frozen=True)
class Fit:
    """One fit's identity, its test predictions and the fingerprint of its training set."""

    arch: str
    condition: str
    seed: int
    repeat: int  # the split repeat (0 with one split)
    predictions: pd.DataFrame  # image_id, target, prob, pred_argmax, pred_tuned
    training_set: str | None = None  # sha256 of the training images and augmentation (metrics.json)


IDENTITY = ("arch", "condition", "repeat", "seed")  # one fit per identity


def load_fits(predictions: Sequence[str | Path], metrics: Sequence[str | Path]) -> list[Fit]:
    """Fits from their predictions.csv and metrics.json, given as matching lists of paths. A
    metrics.json without one of the identity keys is an error naming it (a missing ``repeat``
    read as 0 would merge five repeats into one), and so are two files with one identity,
    naming both (the second would silently replace the first)."""
    fits, seen = [], {}
    for pred_path, metrics_path in zip(predictions, metrics, strict=True):
        m = json.loads(Path(metrics_path).read_text())
        missing = [k for k in IDENTITY if k not in m]
        if missing:
            raise ValueError(
                f"{metrics_path}: no {', '.join(repr(k) for k in missing)}: a fit's metrics.json names "
                f"its {', '.join(IDENTITY)} (written by the fit rule); without them it cannot be paired"
            )
        key = (str(m["arch"]), str(m["condition"]), int(m["repeat"]), int(m["seed"]))
        if key in seen:
            raise ValueError(
                f"two fits of arch {key[0]}, condition {key[1]}, repeat {key[2]}, seed {key[3]}: "
                f"{seen[key]} and {metrics_path} (each fit must have its own identity)"
            )
        seen[key] = metrics_path
        pred = pd.read_csv(pred_path, dtype={"image_id": str})
        fits.append(Fit(key[0], key[1], key[3], key[2], pred, m.get("training_set_sha256")))
    return fits


@dataclass(frozen=True)
class Groups:
    """The lesion groups of one test set: a code per image, a class and a key per group."""

    codes: dict[str, int]  # image_id -> group code
    group_class: np.ndarray  # 1 where the group holds a minority image
    # each group's key (its smallest image id: the same lesion has the same key in every repeat)
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, metadata: pd.DataFrame, split: str = "test", pairs: Iterable[tuple[str, str]] = ()) -> Groups:
        """The groups of ``split``'s images: lesion and patient ids, and same-lesion ``pairs``."""
        rows = metadata[metadata["split"] == split].sort_values("image_id").reset_index(drop=True)
        key = lesion_groups(rows, pairs)
        names = sorted(key.unique())
        index = {g: i for i, g in enumerate(names)}
        codes = {iid: index[g] for iid, g in zip(rows["image_id"], key, strict=True)}
        group_class = np.zeros(len(names), dtype=int)
        for g, t in zip(key, rows["target"].astype(int), strict=True):
            group_class[index[g]] = max(group_class[index[g]], t)
        return cls(codes, group_class, tuple(names))

    def lesions(self, cls: int) -> set[str]:
        return {n for n, c in zip(self.names, self.group_class, strict=True) if c == cls}


@dataclass(frozen=True)
class EvalSet:
    """One test set's fits (their predictions of it) and its lesion groups per repeat. An
    external set is the same images for every repeat (``shared``): one bootstrap draw of its
    lesions serves every replicate, and its lesion sampling is added to the across-repeat
    variance, which cannot show it."""

    fits: list[Fit]
    groups: dict[int, Groups]
    shared: bool = False


def by_key(fits: Sequence[Fit]) -> dict[tuple[str, str], dict[tuple[int, int], Fit]]:
    """(arch, condition) -> (repeat, seed) -> the fit; two fits with one identity are an error."""
    out: dict[tuple[str, str], dict[tuple[int, int], Fit]] = {}
    for f in fits:
        runs = out.setdefault((f.arch, f.condition), {})
        if (f.repeat, f.seed) in runs:
            raise ValueError(
                f"two fits of arch {f.arch}, condition {f.condition}, repeat {f.repeat}, seed {f.seed}: "
                "each fit must have its own identity"
            )
        runs[f.repeat, f.seed] = f
    return out


def pairs_of(conditions: Sequence[str], references: Sequence) -> list[tuple[str, str]]:
    """(condition, reference) pairs: a reference name compares every other condition with it; a
    (condition, reference) pair is one comparison of its own (evaluation.pairs, the primary)."""
    out: list[tuple[str, str]] = []
    for r in references:
        out += [(c, r) for c in conditions if c != r] if isinstance(r, str) else [(r[0], r[1])]
    return list(dict.fromkeys(out))


def comparisons(fits: Sequence[Fit], references: Sequence):
    """(arch, condition, reference, paired replicates) of every comparison whose two conditions
    the same architecture has; the replicates are (repeat, seed) -> (condition fit, reference fit)."""
    by = by_key(fits)
    for arch in dict.fromkeys(a for a, _ in by):
        conditions = [c for a, c in by if a == arch]
        for cond, ref in pairs_of(conditions, references):
            if (arch, cond) in by and (arch, ref) in by:
                a, b = by[arch, cond], by[arch, ref]
                both = sorted(set(a) & set(b))
                if not both:  # fitted on other repeats or seeds: nothing to pair
                    continue
                for k in both:
                    if not a[k].predictions["image_id"].equals(b[k].predictions["image_id"]):
                        raise ValueError(
                            f"{arch}: {cond} and {ref}, repeat {k[0]} seed {k[1]}: tested on other images"
                        )
                yield arch, cond, ref, {k: (a[k], b[k]) for k in both}
