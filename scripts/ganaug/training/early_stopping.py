"""Early stopping on a score that should go up (validation PR-AUC by default, or F1)."""

from __future__ import annotations


class EarlyStopping:
    """Stop after ``patience`` epochs without a strictly better score; remember the best epoch."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def step(self, epoch: int, score: float) -> tuple[bool, bool]:
        """Record ``score`` for ``epoch`` (1-based). Returns (improved, stop)."""
        if self.best is None or score > self.best:
            self.best, self.best_epoch, self.bad_epochs = score, epoch, 0
            return True, False
        self.bad_epochs += 1
        return False, self.bad_epochs >= self.patience
