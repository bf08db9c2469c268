"""Classification metrics against scikit-learn, on fresh random data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from ganaug.evaluation.classification import decide, metrics


@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.15).astype(int)
    p = np.clip(rng.random(300) * 0.6 + 0.4 * y, 0, 1)
    t = float(rng.uniform(0.2, 0.8))
    pred = decide(p, t)
    m = metrics(y, p, pred)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0), abs=1e-12)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert m["specificity"] == pytest.approx(skm.recall_score(1 - y, 1 - pred), abs=1e-12)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
