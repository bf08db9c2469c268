"""The tests beside the verdicts, exploratory and labelled so: McNemar per class clustered by lesion
on the pooled out-of-fold predictions (it holds the fits fixed), the Wilcoxon signed-rank test of
the per-repeat differences (with the smallest p it can reach), and each condition's own metrics
with lesion-bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ganaug.evaluation import families
from ganaug.evaluation.columns import DECISIONS, NO_DECISION, TUNED, metric_decisions
from ganaug.evaluation.differences import Design, paired_sets, repeat_means
from ganaug.evaluation.fits import EvalSet, Fit, by_key
from ganaug.evaluation.inference import clustered_mcnemar, wilcoxon_across
from ganaug.evaluation.stats import percentile_intervals

MCNEMAR_METHOD = (
    "clustered by lesion (Durkalski et al. 2003), exact sign-flip p; pooled over every repeat's "
    "test fold and every seed; fits held fixed"
)


def mcnemar_rows(arch, cond, ref, reps, ts: EvalSet, classes: dict[int, str], name: str) -> list[dict]:
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


def wilcoxon_rows(arch, cond, ref, replicate_rows: list[dict], alpha: float) -> list[dict]:
    rows = []
    table = pd.DataFrame(replicate_rows)
    for (metric, decision), part in table.groupby(["metric", "decision"], sort=False):
        res = wilcoxon_across(repeat_means(part).to_numpy(), alpha)
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


def interval_rows(fits: Sequence[Fit], ts: EvalSet, design: Design, name: str) -> list[dict]:
    """Each condition's own metrics with lesion-bootstrap intervals (PR-AUC once)."""
    rows = []
    for (arch, cond), runs in by_key(fits).items():
        reps = {k: (f, f) for k, f in runs.items()}
        per = {
            d: percentile_intervals(paired_sets(reps, ts, col), max(design.n_resamples, 1), design.seed)
            for d, col in DECISIONS.items()
        }
        for metric, decision in metric_decisions():
            v = per[TUNED if decision == NO_DECISION else decision][metric]
            rows.append(
                {
                    "test_set": name,
                    "arch": arch,
                    "condition": cond,
                    "metric": metric,
                    "decision": decision,
                    **v,
                    "n_replicates": len(reps),
                }
            )
    return rows
