"""The tables of results/stats/ and their columns, the decisions a threshold metric is read at, and
the name of the in-distribution test set (one definition for the package)."""

from __future__ import annotations

from ganaug.data.sources import IN_DISTRIBUTION  # noqa: F401  (the tables' name for it)

DECISIONS = {"tuned": "pred_tuned", "argmax": "pred_argmax"}  # decision -> predictions.csv column
TUNED, NO_DECISION = "tuned", "none"
TABLES = ("differences", "replicates", "mcnemar", "wilcoxon", "intervals")  # results/stats/<name>.csv
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


COLUMNS = {
    "differences": DIFFERENCE_COLUMNS,
    "replicates": REPLICATE_COLUMNS,
    "mcnemar": MCNEMAR_COLUMNS,
    "wilcoxon": WILCOXON_COLUMNS,
    "intervals": INTERVAL_COLUMNS,
}


def metric_decisions() -> list[tuple[str, str]]:
    """(metric, decision) of every row: PR-AUC once (no threshold), the rest per decision."""
    from ganaug.evaluation.stats import COMPARED_METRICS, THRESHOLD_FREE  # the column lists stay import-light

    out = [(m, NO_DECISION) for m in COMPARED_METRICS if m in THRESHOLD_FREE]
    return out + [(m, d) for d in DECISIONS for m in COMPARED_METRICS if m not in THRESHOLD_FREE]
