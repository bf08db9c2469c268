"""The declared primary family (evaluation.primary) as a typed, frozen dataclass.

Apart from ``ganaug.evaluation.families`` (which assigns rows to it and gives the verdicts) so that
the config's checks, which run when the Snakefile is parsed, read it without pandas or scipy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ganaug.dataclass_io import from_dict

ALPHA = 0.05  # the family-wise error rate (evaluation.alpha's default)
ALL = "all"


@dataclass(frozen=True)
class Primary:
    """The declared family (evaluation.primary)."""

    comparisons: tuple[tuple[str, str], ...] = (("gan_curated", "baseline"),)
    metrics: tuple[str, ...] = ("pr_auc", "sensitivity")  # PR-AUC has no decision; the rest: decision
    decision: str = "tuned"  # the decision of the threshold metrics
    test_sets: tuple[str, ...] | str = ALL  # in_distribution and external names, or all
    archs: tuple[str, ...] | str = ALL  # architectures, or all
    alpha: float = ALPHA  # the family-wise error rate Holm controls

    @classmethod
    def of(cls, spec: Mapping | None, alpha: float = ALPHA) -> Primary:
        """evaluation.primary (validated) and evaluation.alpha, through the one ``from_dict``."""
        return from_dict(cls, {**(spec or {}), "alpha": alpha}, "evaluation.primary")

    def size(self, archs: Sequence[str], test_sets: Sequence[str]) -> int:
        """The family's number of hypotheses before the run: comparisons x metrics x test sets x
        architectures (what Holm will adjust over)."""
        n_sets = len(test_sets) if self.test_sets == ALL else len(self.test_sets)
        n_archs = len(archs) if self.archs == ALL else len(self.archs)
        return len(self.comparisons) * len(self.metrics) * n_sets * n_archs

    def describe(self, n: int) -> str:
        comps = ", ".join(f"{c} vs {r}" for c, r in self.comparisons)
        sets = "every test set" if self.test_sets == ALL else ", ".join(self.test_sets)
        archs = "every architecture" if self.archs == ALL else ", ".join(self.archs)
        return (
            f"Holm over the {n} primary hypotheses (evaluation.primary): {comps}; "
            f"{', '.join(self.metrics)} ({self.decision} threshold where it has one); {sets}; {archs}; "
            f"family-wise alpha {self.alpha:g}. The adjusted interval is Bonferroni's 1 - alpha/m: a "
            "hypothesis Holm rejects at a later step can say 'better' while it still holds 0"
        )
