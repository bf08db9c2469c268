"""Every comparison of two conditions, per architecture and test set: the tables of results/stats/.

- ``differences.csv``: condition - reference in sensitivity, specificity, F1 and balanced accuracy
  (at the validation-tuned threshold and at argmax) and PR-AUC (once: it has no threshold). The
  estimate is the mean over repeats of each repeat's difference (seeds averaged within a repeat).
  With two or more repeats its interval and p come from the corrected resampled t across repeats
  (``ganaug.evaluation.inference``), which includes the variance between training runs; with one
  split from the lesion bootstrap, labelled "conditional on these fits". Every row says whether it
  is ``primary`` (the declared family of ``evaluation.primary``: Holm-adjusted, with a verdict
  word) or ``exploratory`` (an unadjusted interval, no verdict). The lesion bootstrap interval of
  these fits is kept beside it on every row (``boot_*``), and the confusion counts of both sides.
  A comparison of identical training sets is ``degenerate``, not a difference of 0.
- ``replicates.csv``: each replicate's (repeat x seed) own difference.
- ``mcnemar.csv``: McNemar per class, on the pooled out-of-fold predictions (every repeat's
  disjoint test fold, every seed), clustered by lesion, with its exact sign-flip p. It holds the
  fits fixed: exploratory, no verdict.
- ``wilcoxon.csv``: the signed-rank test of the per-repeat differences, its smallest attainable p
  and the Hodges-Lehmann estimate (whose sign is its direction). Exploratory.
- ``intervals.csv``: each condition's own metrics with lesion-bootstrap intervals (descriptive).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ganaug.data.splits import lesion_groups
from ganaug.evaluation import families
from ganaug.evaluation.inference import (
    clustered_mcnemar,
    conditional_mde,
    corrected_t,
    minimum_detectable_effect,
    variance_factor,
    wilcoxon_across,
)
from ganaug.evaluation.stats import (
    COMPARED_METRICS,
    THRESHOLD_FREE,
    Model,
    PairedSet,
    confusion_counts,
    metric_values,
    paired_bootstrap,
    percentile_intervals,
)

DECISIONS = {"tuned": "pred_tuned", "argmax": "pred_argmax"}  # decision -> predictions.csv column
TUNED, NO_DECISION = "tuned", "none"
TABLES = ("differences", "replicates", "mcnemar", "wilcoxon", "intervals")  # results/stats/<name>.csv
IN_DISTRIBUTION = "in_distribution"
OVER_REPEATS = "corrected resampled t over {r} repeats (Nadeau & Bengio 2003), unadjusted"
CONDITIONAL = (
    "lesion bootstrap, conditional on these fits (one split: says nothing of the training procedure)"
)
DIFFERENCE_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "family",
    "value",
    "reference_value",
    "delta",
    "ci_low",
    "ci_high",
    "interval",
    "ci_adj_low",
    "ci_adj_high",
    "p",
    "p_holm",
    "verdict",
    "mde_80",
    "mde_basis",
    "n_repeats",
    "n_seeds",
    "sd_between_repeats",
    "se",
    "df",
    "boot_ci_low",
    "boot_ci_high",
    "boot_p",
    "degenerate",
    "note",
    "n_test_images",
    "n_test_lesions_minority",
    "n_test_lesions_majority",
    "tp",
    "fn",
    "fp",
    "tn",
    "ref_tp",
    "ref_fn",
    "ref_fp",
    "ref_tn",
    "holm_family",
]
REPLICATE_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "repeat",
    "seed",
    "value",
    "reference_value",
    "delta",
]
MCNEMAR_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "reference",
    "class",
    "family",
    "lesions",
    "discordant_lesions",
    "n_image_replicates",
    "b",
    "c",
    "more_often_right",
    "statistic",
    "p",
    "method",
]
WILCOXON_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "family",
    "n_repeats",
    "hodges_lehmann",
    "direction",
    "statistic",
    "p",
    "p_min_attainable",
    "can_reach_alpha",
    "note",
]
INTERVAL_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "metric",
    "decision",
    "estimate",
    "ci_low",
    "ci_high",
    "n_replicates",
]
MCNEMAR_METHOD = (
    "clustered by lesion (Durkalski et al. 2003), exact sign-flip p; pooled over every repeat's "
    "test fold and every seed; fits held fixed"
)


@dataclass(frozen=True)
class Fit:
    """One fit's identity, its test predictions and the fingerprint of its training set."""

    arch: str
    condition: str
    seed: int
    repeat: int  # the split repeat (0 with one split)
    predictions: pd.DataFrame  # image_id, target, prob, pred_argmax, pred_tuned
    training_set: str | None = None  # sha256 of the training images and augmentation (metrics.json)


def load_fits(predictions: Sequence[str | Path], metrics: Sequence[str | Path]) -> list[Fit]:
    """Fits from their predictions.csv and metrics.json, given as matching lists of paths."""
    fits = []
    for pred_path, metrics_path in zip(predictions, metrics, strict=True):
        m = json.loads(Path(metrics_path).read_text())
        pred = pd.read_csv(pred_path, dtype={"image_id": str})
        fits.append(
            Fit(
                m["arch"],
                m["condition"],
                int(m["seed"]),
                int(m.get("repeat", 0)),
                pred,
                m.get("training_set_sha256"),
            )
        )
    return fits


@dataclass(frozen=True)
class Groups:
    """The lesion groups of one test set: a code per image, a class and a key per group."""

    codes: dict[str, int]  # image_id -> group code
    group_class: np.ndarray  # 1 where the group holds a minority image
    # each group's key (its smallest image id: the same lesion has the same key in every repeat)
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, metadata: pd.DataFrame, split: str = "test") -> Groups:
        rows = metadata[metadata["split"] == split].sort_values("image_id").reset_index(drop=True)
        key = lesion_groups(rows)
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


@dataclass(frozen=True)
class Design:
    """What the inference needs to know of the study's design."""

    primary: families.Primary = field(default_factory=families.Primary)
    test_train_ratio: float = 0.15 / 0.70  # n_test / n_train of the split (Nadeau-Bengio)
    n_resamples: int = 2000  # lesion bootstrap resamples (0: none)
    seed: int = 42
    # the lesion bootstrap of fixed fits on test sets of their own (a shared set always has one:
    # its variance enters the corrected t), and intervals.csv; the calibration simulation can
    # turn them off (they print no verdict, and cost most of its time)
    fixed_fit_bootstrap: bool = True
    intervals: bool = True

    def resamples(self, ts: EvalSet) -> int:
        return self.n_resamples if ts.shared or self.fixed_fit_bootstrap else 0


def metric_decisions() -> list[tuple[str, str]]:
    """(metric, decision) of every row: PR-AUC once (no threshold), the rest per decision."""
    out = [(m, NO_DECISION) for m in COMPARED_METRICS if m in THRESHOLD_FREE]
    return out + [(m, d) for d in DECISIONS for m in COMPARED_METRICS if m not in THRESHOLD_FREE]


def _by_key(fits: Sequence[Fit]) -> dict[tuple[str, str], dict[tuple[int, int], Fit]]:
    out: dict[tuple[str, str], dict[tuple[int, int], Fit]] = {}
    for f in fits:
        out.setdefault((f.arch, f.condition), {})[f.repeat, f.seed] = f
    return out


def _pairs(conditions: Sequence[str], references: Sequence) -> list[tuple[str, str]]:
    """(condition, reference) pairs: a reference name compares every other condition with it; a
    (condition, reference) pair is one comparison of its own (evaluation.pairs, the primary)."""
    out: list[tuple[str, str]] = []
    for r in references:
        out += [(c, r) for c in conditions if c != r] if isinstance(r, str) else [(r[0], r[1])]
    return list(dict.fromkeys(out))


def _comparisons(fits: Sequence[Fit], references: Sequence):
    """(arch, condition, reference, paired replicates) of every comparison whose two conditions
    the same architecture has; the replicates are (repeat, seed) -> (condition fit, reference fit)."""
    by = _by_key(fits)
    for arch in dict.fromkeys(a for a, _ in by):
        conditions = [c for a, c in by if a == arch]
        for cond, ref in _pairs(conditions, references):
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


def _paired_sets(reps: dict, ts: EvalSet, column: str) -> list[PairedSet]:
    """The bootstrap's input: one PairedSet per distinct test set (per repeat in distribution,
    one for a shared external set), holding the pairs of the replicates tested on it."""
    by_set: dict[int, list[tuple[int, int]]] = {}
    for r, s in reps:
        by_set.setdefault(id(ts.groups[r]), []).append((r, s))
    sets = []
    for members in by_set.values():
        g = ts.groups[members[0][0]]
        a0 = reps[members[0]][0].predictions
        codes = np.array([g.codes[i] for i in a0["image_id"]])
        pairs = [
            tuple(
                Model(f.predictions["prob"].to_numpy(float), f.predictions[column].to_numpy(int))
                for f in reps[k]
            )
            for k in members
        ]
        sets.append(PairedSet(a0["target"].to_numpy(int), codes, g.group_class, pairs))
    return sets


def _per_repeat(values: pd.DataFrame) -> pd.Series:
    """Each repeat's difference: its seeds' differences averaged."""
    return values.groupby("repeat")["delta"].mean()


def _counts(reps: dict, side: int, column: str) -> dict[str, int]:
    """TP, FN, FP and TN summed over the replicates, for one side of the comparison."""
    total = np.zeros(4)
    for pair in reps.values():
        p = pair[side].predictions
        total += np.array(confusion_counts(p["target"], p[column]), dtype=np.float64)
    tp, fp, fn, tn = (round(v) for v in total)
    return {"tp": tp, "fn": fn, "fp": fp, "tn": tn}


def _sizes(reps: dict, ts: EvalSet) -> dict[str, int]:
    distinct = {id(ts.groups[r]): ts.groups[r] for r, _ in reps}.values()  # a shared set counts once
    return {
        "n_test_images": int(sum(len(g.codes) for g in distinct)),
        "n_test_lesions_minority": len(set().union(*(g.lesions(1) for g in distinct))),
        "n_test_lesions_majority": len(set().union(*(g.lesions(0) for g in distinct))),
    }


def _replicate_values(reps: dict, column: str) -> dict[str, pd.DataFrame]:
    """Per metric: each replicate's value on both sides and their difference."""
    rows: dict[str, list[dict]] = {m: [] for m in COMPARED_METRICS}
    for (r, s), (a, b) in sorted(reps.items()):
        va, vb = (
            metric_values(f.predictions["target"], f.predictions["prob"], f.predictions[column])
            for f in (a, b)
        )
        for m in COMPARED_METRICS:
            x, y = float(va[m][0]), float(vb[m][0])
            rows[m].append({"repeat": r, "seed": s, "value": x, "reference_value": y, "delta": x - y})
    return {m: pd.DataFrame(v) for m, v in rows.items()}


def _inference(values: pd.DataFrame, boot: dict, ts: EvalSet, design: Design, degenerate: bool) -> dict:
    """The row's estimate, interval and p (the primary rows' minimum detectable effect comes
    with the family, in _finish_differences)."""
    per_repeat = _per_repeat(values)
    n_rep = len(per_repeat)
    out = {
        "n_repeats": n_rep,
        "n_seeds": int(values.groupby("repeat").size().max()),
        "value": float(values.groupby("repeat")["value"].mean().mean()),
        "reference_value": float(values.groupby("repeat")["reference_value"].mean().mean()),
        "delta": float(per_repeat.mean()),
        "boot_ci_low": boot["ci_low"],
        "boot_ci_high": boot["ci_high"],
        "boot_p": boot["p"],
        "degenerate": degenerate,
        "note": "",
    }
    if degenerate:
        return out | {
            "ci_low": None,
            "ci_high": None,
            "p": None,
            "interval": "",
            "se": None,
            "df": None,
            "sd_between_repeats": None,
            "mde_basis": "",
            "note": "degenerate: the two conditions trained on identical training sets",
        }
    if n_rep >= 2:
        extra = shared_variance(boot["se"], float(per_repeat.var(ddof=1)), n_rep) if ts.shared else 0.0
        t = corrected_t(per_repeat.to_numpy(), design.test_train_ratio, extra)
        basis = "corrected t" + (" + the external set's lesion sampling" if ts.shared else "")
        return out | {
            "ci_low": t["ci_low"],
            "ci_high": t["ci_high"],
            "p": t["p"],
            "se": t["se"],
            "df": t["df"],
            "interval": OVER_REPEATS.format(r=n_rep)
            + (", with the shared external set's lesion sampling added" if ts.shared else ""),
            "sd_between_repeats": t["sd"],
            "note": t["note"],
            "mde_basis": basis,
        }
    return out | {
        "ci_low": boot["ci_low"],
        "ci_high": boot["ci_high"],
        "p": boot["p"],
        "se": boot["se"],
        "df": None,
        "interval": CONDITIONAL,
        "sd_between_repeats": None,
        "mde_basis": "test lesions only, conditional on these fits (a lower bound)",
    }


def shared_variance(boot_se: float | None, spread: float, n_repeats: int) -> float:
    """The variance a shared test set adds, that the spread between repeats cannot show: the
    lesion bootstrap's variance of the pooled difference (fits held fixed) holds the lesions'
    sampling and, again, each fit's own noise, which the spread already counts (its share of the
    pooled mean is spread / R); so the method-of-moments difference of the two, never below 0."""
    if boot_se is None or not np.isfinite(boot_se):
        return 0.0
    own = spread / n_repeats if np.isfinite(spread) else 0.0
    return max(0.0, boot_se**2 - own)


def _comparison_rows(arch, cond, ref, reps, ts: EvalSet, design: Design, name: str):
    """The differences rows and replicate rows of one comparison on one test set."""
    degenerate = all(
        a.training_set is not None and a.training_set == b.training_set for a, b in reps.values()
    )
    key = {"test_set": name, "arch": arch, "condition": cond, "reference": ref}
    rows, replicate_rows = [], []
    boots = {
        d: paired_bootstrap(_paired_sets(reps, ts, col), design.resamples(ts), design.seed)
        for d, col in DECISIONS.items()
    }
    sizes = _sizes(reps, ts)
    per_decision = {d: _replicate_values(reps, col) for d, col in DECISIONS.items()}
    for metric, decision in metric_decisions():
        column = DECISIONS[TUNED if decision == NO_DECISION else decision]
        values = per_decision[TUNED if decision == NO_DECISION else decision][metric]
        boot = boots[TUNED if decision == NO_DECISION else decision][metric]
        row = {
            **key,
            "metric": metric,
            "decision": decision,
            **sizes,
            **_inference(values, boot, ts, design, degenerate),
        }
        if decision != NO_DECISION:
            row |= _counts(reps, 0, column) | {f"ref_{k}": v for k, v in _counts(reps, 1, column).items()}
        rows.append(row)
        replicate_rows += [
            {**key, "metric": metric, "decision": decision, **v} for v in values.to_dict("records")
        ]
    return rows, replicate_rows


def _mcnemar_rows(arch, cond, ref, reps, ts: EvalSet, classes: dict[int, str], name: str) -> list[dict]:
    """Per class: McNemar on every (image, replicate) pair of the class, clustered by lesion."""
    rows = []
    for cls, label in classes.items():
        b: dict[str, int] = {}
        c: dict[str, int] = {}
        n_images = 0
        for (r, _), (fa, fb) in reps.items():
            pa, pb = fa.predictions, fb.predictions
            y = pa["target"].to_numpy(int) == cls
            ok_a = pa[DECISIONS[TUNED]].to_numpy(int)[y] == cls
            ok_b = pb[DECISIONS[TUNED]].to_numpy(int)[y] == cls
            g = ts.groups[r]
            lesion = [g.names[g.codes[i]] for i in pa["image_id"].to_numpy()[y]]
            n_images += int(y.sum())
            for les, x, z in zip(lesion, ok_a & ~ok_b, ~ok_a & ok_b, strict=True):
                b[les], c[les] = b.get(les, 0) + int(x), c.get(les, 0) + int(z)
        keys = sorted(b)
        res = clustered_mcnemar([b[k] for k in keys], [c[k] for k in keys])
        more = "condition" if res["b"] > res["c"] else "reference" if res["c"] > res["b"] else "tie"
        rows.append(
            {
                "test_set": name,
                "arch": arch,
                "condition": cond,
                "reference": ref,
                "class": label,
                "family": families.EXPLORATORY,
                "n_image_replicates": n_images,
                **res,
                "more_often_right": more,
                "method": MCNEMAR_METHOD,
            }
        )
    return rows


def _wilcoxon_rows(arch, cond, ref, replicate_rows: list[dict], alpha: float) -> list[dict]:
    rows = []
    table = pd.DataFrame(replicate_rows)
    for (metric, decision), part in table.groupby(["metric", "decision"], sort=False):
        res = wilcoxon_across(_per_repeat(part).to_numpy(), alpha)
        note = (
            ""
            if res["can_reach_alpha"]
            else (
                f"with {res['n_repeats']} repeat(s) the smallest attainable p is "
                f"{res['p_min_attainable']:.4g}: it cannot reach {alpha:g}"
            )
        )
        rows.append(
            {
                "test_set": part["test_set"].iloc[0],
                "arch": arch,
                "condition": cond,
                "reference": ref,
                "metric": metric,
                "decision": decision,
                "family": families.EXPLORATORY,
                **res,
                "note": note,
            }
        )
    return rows


def _interval_rows(fits: Sequence[Fit], ts: EvalSet, design: Design, name: str) -> list[dict]:
    """Each condition's own metrics with lesion-bootstrap intervals (PR-AUC once)."""
    rows = []
    for (arch, cond), runs in _by_key(fits).items():
        reps = {k: (f, f) for k, f in runs.items()}
        per = {d: percentile_intervals(_paired_sets(reps, ts, col), max(design.n_resamples, 1), design.seed)
               for d, col in DECISIONS.items()}  # fmt: skip
        for metric, decision in metric_decisions():
            v = per[TUNED if decision == NO_DECISION else decision][metric]
            rows.append({"test_set": name, "arch": arch, "condition": cond, "metric": metric,
                         "decision": decision, **v, "n_replicates": len(reps)})  # fmt: skip
    return rows


def set_tables(name: str, ts: EvalSet, plan: Sequence, classes: dict[int, str], design: Design) -> dict:
    """Every table's rows for one test set."""
    missing = sorted({f.repeat for f in ts.fits} - set(ts.groups))
    if missing:
        raise ValueError(f"fits of repeat(s) {missing} but no metadata.csv for them")
    out: dict[str, list[dict]] = {t: [] for t in TABLES}
    for arch, cond, ref, reps in _comparisons(ts.fits, plan):
        rows, reps_rows = _comparison_rows(arch, cond, ref, reps, ts, design, name)
        out["differences"] += rows
        out["replicates"] += reps_rows
        out["mcnemar"] += _mcnemar_rows(arch, cond, ref, reps, ts, classes, name)
        out["wilcoxon"] += _wilcoxon_rows(arch, cond, ref, reps_rows, design.primary.alpha)
    if design.n_resamples and design.intervals:
        out["intervals"] = _interval_rows(ts.fits, ts, design, name)
    return out


COLUMNS = {
    "differences": DIFFERENCE_COLUMNS,
    "replicates": REPLICATE_COLUMNS,
    "mcnemar": MCNEMAR_COLUMNS,
    "wilcoxon": WILCOXON_COLUMNS,
    "intervals": INTERVAL_COLUMNS,
}


def _finish_differences(table: pd.DataFrame, primary: families.Primary, ratio: float) -> pd.DataFrame:
    """The primary family: Holm, verdicts, and each primary row's minimum detectable effect at 80 %
    power at Holm's first-step level alpha / m (exploratory rows have none: no test is planned)."""
    if table.empty:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    table = families.assign(table, primary)
    table["mde_80"] = table["ci_adj_low"] = table["ci_adj_high"] = None
    m = families.family_size(table)
    level = primary.alpha / max(m, 1)
    for i in table.index[(table["family"] == families.PRIMARY) & ~table["degenerate"]]:
        se, df, delta = table.at[i, "se"], table.at[i, "df"], table.at[i, "delta"]
        if pd.notna(df) and pd.notna(se):
            # Bonferroni's 1 - alpha/m interval: it excludes 0 whenever Holm's first step rejects
            half = float(sps.t.ppf(1 - level / 2, int(df))) * se
            table.at[i, "ci_adj_low"], table.at[i, "ci_adj_high"] = delta - half, delta + half
            sd, r = float(table.at[i, "sd_between_repeats"]), int(table.at[i, "n_repeats"])
            extra = max(0.0, se**2 - variance_factor(r, ratio) * sd**2)  # what the repeats share
            table.at[i, "mde_80"] = minimum_detectable_effect(sd, r, ratio, level, extra)
            # correlated as much as Nadeau and Bengio assume, the repeats would need a little more
            table.at[i, "mde_basis"] = f"{table.at[i, 'mde_basis']}, under independent repeats"
        else:
            table.at[i, "mde_80"] = conditional_mde(se, level)
        table.at[i, "mde_basis"] = f"{table.at[i, 'mde_basis']}; at alpha / m = {level:.3g}"
    for k in ("tp", "fn", "fp", "tn", "ref_tp", "ref_fn", "ref_fp", "ref_tn"):
        table[k] = table[k].astype("Int64")
    return table


def significance_tables(
    sets: Mapping[str, EvalSet], references: Sequence, classes: dict[int, str], design: Design
) -> dict[str, pd.DataFrame]:
    """All five tables over every test set. ``references``: reference names and (condition,
    reference) pairs; the primary comparisons are always made."""
    plan = families.planned(references, [], design.primary)
    parts = {name: set_tables(name, ts, plan, classes, design) for name, ts in sets.items()}
    out = {}
    for table in TABLES:
        rows = [r for p in parts.values() for r in p[table]]
        frame = pd.DataFrame(rows, columns=None if rows else COLUMNS[table])
        if table == "differences":
            frame = _finish_differences(frame, design.primary, design.test_train_ratio)
        out[table] = frame.reindex(columns=COLUMNS[table])
    return out


def _read_metadata(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"image_id": str, "lesion_id": str, "patient_id": str}, keep_default_na=False
    )


def external_inputs(inputs: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The rule's ``ext_meta_<name>`` and ``ext_pred_<name>`` inputs, paired by set name."""
    names = [k.removeprefix("ext_meta_") for k in inputs if k.startswith("ext_meta_")]
    return {n: (inputs[f"ext_meta_{n}"], inputs[f"ext_pred_{n}"]) for n in names}


def significance_rule(
    predictions: Sequence[str | Path],
    metrics: Sequence[str | Path],
    metadata: Sequence[str | Path],
    outputs: dict[str, str],
    references: Sequence[str],
    minority: str,
    majority: str,
    bootstrap_resamples: int,
    seed: int,
    split: Mapping[str, float],
    primary: Mapping | None = None,
    alpha: float = 0.05,
    repeats: Sequence[int] = (0,),
    external: dict[str, tuple[str | Path, Sequence[str | Path]]] | None = None,
    pairs: Sequence[Sequence[str]] = (),
) -> dict[str, pd.DataFrame]:
    """The rule significance: the tables of results/stats/ and the forest plot. ``metadata``:
    each repeat's metadata.csv, in the order of ``repeats``; ``external``: per external set, its
    metadata.csv and every fit's predictions of it (in the order of ``metrics``); ``split``: the
    split fractions (the corrected t's n_test / n_train)."""
    from ganaug.data.external import EXTERNAL_SPLIT
    from ganaug.io import write_csv
    from ganaug.viz import save_forest

    if isinstance(metadata, str | Path):
        metadata = [metadata]
    groups = {int(r): Groups.of(_read_metadata(m)) for r, m in zip(repeats, metadata, strict=True)}
    sets = {IN_DISTRIBUTION: EvalSet(load_fits(predictions, metrics), groups)}
    for name, (meta, preds) in (external or {}).items():
        ext = Groups.of(_read_metadata(meta), split=EXTERNAL_SPLIT)
        # the same external images for every repeat: each repeat's fits are paired on them
        sets[name] = EvalSet(load_fits(preds, metrics), {r: ext for r in groups}, shared=True)
    design = Design(
        families.Primary.of(primary, alpha), split["test"] / split["train"], bootstrap_resamples, seed
    )
    plan = [*references, *(tuple(p) for p in pairs)]
    tables = significance_tables(sets, plan, {1: minority, 0: majority}, design)
    for name, table in tables.items():
        write_csv(table, outputs[name], for_spreadsheets=True)
    save_forest(tables["differences"], outputs["forest"])
    return tables
