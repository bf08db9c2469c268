"""Condition - reference, per comparison and test set: each replicate's difference, the estimate
(the mean over repeats of each repeat's seed-averaged difference) and its inference, the corrected
resampled t across repeats (``ganaug.evaluation.inference``) or, with one split, the lesion
bootstrap of these fits; then the declared primary family's Holm adjustment, verdicts and
minimum detectable effects (``ganaug.evaluation.families``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from ganaug.evaluation import families
from ganaug.evaluation.columns import DECISIONS, DIFFERENCE_COLUMNS, NO_DECISION, TUNED, metric_decisions
from ganaug.evaluation.fits import EvalSet
from ganaug.evaluation.inference import (
    conditional_mde,
    corrected_t,
    minimum_detectable_effect,
    variance_factor,
)
from ganaug.evaluation.stats import (
    COMPARED_METRICS,
    Model,
    PairedSet,
    confusion_counts,
    metric_values,
    paired_bootstrap,
)

OVER_REPEATS = "corrected resampled t over {r} repeats (Nadeau & Bengio 2003), unadjusted"
CONDITIONAL = (
    "lesion bootstrap, conditional on these fits (one split: says nothing of the training procedure)"
)


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


def paired_sets(reps: dict, ts: EvalSet, column: str) -> list[PairedSet]:
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


def repeat_means(values: pd.DataFrame) -> pd.Series:
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
    with the family, in finish_differences)."""
    per_repeat = repeat_means(values)
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
        extra = shared_variance(boot["se"], boot.get("repeat_ses", []), n_rep) if ts.shared else 0.0
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


def shared_variance(boot_se: float | None, repeat_ses: list[float], n_repeats: int) -> float:
    """The variance a shared test set adds, that the spread between repeats cannot show: the
    variance of the effect over samples of its lesions. The lesion bootstrap of the pooled
    difference (fits held fixed, B = its se^2) holds it plus each fit's own noise on those
    lesions averaged over the R repeats (e / R); the bootstrap of one repeat's difference (A,
    the mean of their se^2, the same resamples) holds it plus e. So (R B - A) / (R - 1), never
    below 0. (The first estimator subtracted the whole spread between repeats / R, which also
    holds what varies between runs but not between lesions: it was 0 in 95-99 % of null
    worlds, and too small where there was an effect.) Without per-repeat bootstraps: B alone."""
    if boot_se is None or not np.isfinite(boot_se):
        return 0.0
    own = [v for v in repeat_ses if v is not None and np.isfinite(v)]
    if len(own) < 2 or n_repeats < 2:
        return float(boot_se**2)
    a = float(np.mean(np.square(own)))
    return max(0.0, (n_repeats * boot_se**2 - a) / (n_repeats - 1))


def _add_repeat_ses(boots: dict, reps: dict, ts: EvalSet, design: Design) -> None:
    """Each repeat's own lesion-bootstrap se on a shared set (the same resamples as the pooled
    bootstrap: the same groups and seed), for :func:`shared_variance`."""
    repeats = sorted({r for r, _ in reps})
    if len(repeats) < 2:
        return
    for d, col in DECISIONS.items():
        per = [
            paired_bootstrap(
                paired_sets({k: v for k, v in reps.items() if k[0] == r}, ts, col),
                design.resamples(ts),
                design.seed,
            )
            for r in repeats
        ]
        for metric, boot in boots[d].items():
            boot["repeat_ses"] = [p[metric]["se"] for p in per]


def comparison_rows(arch, cond, ref, reps, ts: EvalSet, design: Design, name: str):
    """The differences rows and replicate rows of one comparison on one test set."""
    degenerate = all(
        a.training_set is not None and a.training_set == b.training_set for a, b in reps.values()
    )
    key = {"test_set": name, "arch": arch, "condition": cond, "reference": ref}
    rows, replicate_rows = [], []
    boots = {
        d: paired_bootstrap(paired_sets(reps, ts, col), design.resamples(ts), design.seed)
        for d, col in DECISIONS.items()
    }
    if ts.shared and design.resamples(ts) and not degenerate:
        _add_repeat_ses(boots, reps, ts, design)
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


def finish_differences(table: pd.DataFrame, primary: families.Primary, ratio: float) -> pd.DataFrame:
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
