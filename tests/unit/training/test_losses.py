"""The long-tail baselines' losses against their papers' definitions, written out in numpy, and
the focal loss against torchvision's sigmoid focal loss (two-class softmax = sigmoid of the logit
difference); fresh random inputs each time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from ganaug.config import validate_config
from ganaug.config_checks import loss_problems
from ganaug.loss_spec import LossSpec
from ganaug.settings import Condition
from ganaug.training.losses import (
    balanced_softmax_cross_entropy,
    focal_loss,
    logit_adjusted_cross_entropy,
    training_loss,
)


def batch(seed: int, n: int = 64):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(n, 2))
    y = (rng.random(n) < 0.2).astype(np.int64)
    counts = np.array([rng.integers(50, 5000), rng.integers(1, 50)], dtype=float)
    return z, y, counts, rng


def softmax_nll(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))


@pytest.mark.parametrize("seed", range(3))
def test_logit_adjustment_is_menon_et_als_eq_10(seed):
    z, y, counts, rng = batch(seed)
    tau = float(rng.uniform(0.5, 2.0))
    prior = counts / counts.sum()
    want = softmax_nll(z + tau * np.log(prior), y).mean()  # -log softmax(z + tau log pi)_y
    got = logit_adjusted_cross_entropy(torch.tensor(z), torch.tensor(y), torch.tensor(prior), tau)
    assert float(got) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_balanced_softmax_is_ren_et_als_eq_4_and_logit_adjustment_at_tau_1(seed):
    z, y, counts, _ = batch(seed)
    e = np.exp(z)
    want = -np.log(counts[y] * e[np.arange(len(y)), y] / (counts * e).sum(axis=1)).mean()
    got = balanced_softmax_cross_entropy(torch.tensor(z), torch.tensor(y), torch.tensor(counts))
    assert float(got) == pytest.approx(want, rel=1e-10)
    la = logit_adjusted_cross_entropy(
        torch.tensor(z), torch.tensor(y), torch.tensor(counts / counts.sum()), 1.0
    )
    assert float(la) == pytest.approx(float(got), rel=1e-12)


@pytest.mark.parametrize(("gamma", "alpha"), [(2.0, 0.25), (0.5, 0.8), (3.0, -1.0)])
def test_focal_loss_equals_torchvisions_sigmoid_focal_loss(gamma, alpha):
    z, y, _, _ = batch(int(gamma * 10))
    zt, yt = torch.tensor(z), torch.tensor(y)
    ref = torchvision.ops.sigmoid_focal_loss(
        zt[:, 1] - zt[:, 0], yt.double(), alpha=alpha, gamma=gamma, reduction="mean"
    )
    assert float(focal_loss(zt, yt, gamma, alpha)) == pytest.approx(float(ref), rel=1e-10)


def test_focal_loss_without_focus_or_weight_is_the_cross_entropy():
    z, y, _, _ = batch(5)
    got = focal_loss(torch.tensor(z), torch.tensor(y), gamma=0.0, alpha=-1.0)
    assert float(got) == pytest.approx(softmax_nll(z, y).mean(), rel=1e-12)


def test_the_weighted_cross_entropy_is_the_weighted_mean():
    z, y, counts, _ = batch(6)
    w = len(y) / (2 * np.bincount(y, minlength=2))
    want = (w[y] * softmax_nll(z, y)).sum() / w[y].sum()
    loss = training_loss(LossSpec(), counts.astype(int).tolist(), torch.tensor(w))
    assert float(loss(torch.tensor(z), torch.tensor(y))) == pytest.approx(want, rel=1e-12)
    # a long-tail loss reads the counts, never the weights
    la = training_loss(LossSpec("logit_adjusted"), counts.astype(int).tolist(), torch.tensor(w))
    prior = torch.tensor(counts / counts.sum(), dtype=torch.float32)
    assert float(la(torch.tensor(z), torch.tensor(y))) == pytest.approx(
        float(logit_adjusted_cross_entropy(torch.tensor(z), torch.tensor(y), prior.double(), 1.0)), rel=1e-6
    )
    with pytest.raises(ValueError, match=r"needs both classes in the training set \(counts \[10, 0\]\)"):
        training_loss(LossSpec("focal"), [10, 0], torch.tensor(w))


def test_a_loss_is_read_from_a_condition_and_its_settings_must_be_its_own():
    assert LossSpec.of(None) == LossSpec() and LossSpec.of("focal").gamma == 2.0
    assert LossSpec.of({"name": "logit_adjusted", "tau": 1.5}).tau == 1.5
    with pytest.raises(
        ValueError, match=r"x\.loss: tau is not a setting of the focal loss \(its settings: alpha, gamma\)"
    ):
        LossSpec.of({"name": "focal", "tau": 1.0}, "x.loss")
    cond = Condition.from_dict("bs", {"synthetic": "none", "real_minority": True, "augment": False,
                                      "loss": {"name": "balanced_softmax", "gamma": 1}})  # fmt: skip
    (problem,) = loss_problems(cond)
    assert problem == (
        "config key classifier.conditions.bs.loss: gamma is not a setting of the balanced_softmax loss "
        "(it has none)"
    )
    base = {"synthetic": "none", "n_synthetic": 0, "real_minority": True, "augment": False}
    curated = {**base, "synthetic": "curated", "n_synthetic": 10}
    table = {"baseline": base, "gan_curated": curated, "la": {**base, "loss": "logit_adjusted"}}
    cfg = validate_config({"classifier": {"conditions": table}})
    assert cfg["classifier"]["conditions"]["la"]["loss"] == "logit_adjusted"
    assert "loss" not in cfg["classifier"]["conditions"]["baseline"]  # no default: old fits keep their params
    with pytest.raises(ValueError, match="loss"):
        validate_config({"classifier": {"conditions": {**table, "x": {**base, "loss": "hinge"}}}})


def test_a_fit_trains_with_its_conditions_loss(monkeypatch):
    """fit() hands the batch's fp32 logits to the condition's loss, not to the weighted CE."""
    from ganaug.settings import FitConfig
    from ganaug.training import classifier

    seen = []
    real = classifier.training_loss

    def spy(spec, counts, w):
        fn = real(spec, counts, w)
        seen.append((spec.name, counts))
        return fn

    monkeypatch.setattr(classifier, "training_loss", spy)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    x = torch.randint(0, 255, (20, 3, 8, 8), dtype=torch.uint8)
    y = np.array([0] * 16 + [1] * 4)
    cfg = FitConfig(batch_size=8, max_epochs=1, patience=1)
    _, hist, _ = classifier.fit(model, x, y, x, y, cfg, [1.0, 4.0], False, 0, torch.device("cpu"),
                                progress=False, loss=LossSpec("focal"))  # fmt: skip
    assert seen == [("focal", [16, 4])] and np.isfinite(hist["train_loss"]).all()
