"""A condition's training loss as the config gives it (``ganaug.training.losses`` computes it):
torch-free, so the config checks at parse time can read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOSSES = ("weighted_ce", "logit_adjusted", "balanced_softmax", "focal")
WEIGHTED_CE = "weighted_ce"


@dataclass(frozen=True)
class LossSpec:
    """A condition's ``loss``: its name and settings (tau: logit adjustment's scale; gamma,
    alpha: the focal loss's)."""

    name: str = WEIGHTED_CE
    tau: float = 1.0
    gamma: float = 2.0
    alpha: float = 0.25

    @classmethod
    def of(cls, loss: str | Mapping[str, Any] | None, where: str = "loss") -> LossSpec:
        """From a condition's ``loss`` key: absent, a name, or a mapping with ``name`` and the
        settings of that loss only."""
        if loss is None:
            return cls()
        if isinstance(loss, str):
            loss = {"name": loss}
        name = loss.get("name")
        if name not in LOSSES:
            raise ValueError(f"{where}.name: {name!r} is not a training loss; one of {', '.join(LOSSES)}")
        allowed = {"logit_adjusted": {"tau"}, "focal": {"gamma", "alpha"}}.get(name, set())
        extra = sorted(set(loss) - {"name"} - allowed)
        if extra:
            raise ValueError(
                f"{where}: {', '.join(extra)} is not a setting of the {name} loss"
                + (f" (its settings: {', '.join(sorted(allowed))})" if allowed else " (it has none)")
            )
        return cls(name, **{k: float(v) for k, v in loss.items() if k != "name"})

    def record(self, counts: list[int]) -> dict[str, Any]:
        """What metrics.json says of the loss: its name, its settings, and the class counts it
        read where it reads them."""
        out: dict[str, Any] = {"name": self.name, "class_weights_in_loss": self.name == WEIGHTED_CE}
        if self.name == "logit_adjusted":
            out |= {"tau": self.tau, "class_counts": counts}
        elif self.name == "balanced_softmax":
            out |= {"class_counts": counts}
        elif self.name == "focal":
            out |= {"gamma": self.gamma, "alpha": self.alpha}
        return out
