"""Classifier training: early stopping, class weights, augmentation, the conditions' training
sets, and the order of events that keeps the test split honest."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import ganaug.training.fit_job as clf_mod
from ganaug.data.datasets import class_weights, training_set, weighted_mass
from ganaug.data.provenance import load_train_minority
from ganaug.evaluation.classification import decide, metrics
from ganaug.settings import Condition
from ganaug.training.augment import augment
from ganaug.training.classifier import FitConfig
from ganaug.training.early_stopping import EarlyStopping
from ganaug.training.fit_job import FitInputs, FitJob, FitOutputs, fit_and_evaluate
from tests.helpers import sk_metrics

CONDITIONS = {
    "baseline": {"synthetic": "none", "n_synthetic": 0, "real_minority": True, "augment": False},
    "traditional_aug": {"synthetic": "none", "n_synthetic": 0, "real_minority": True, "augment": True},
    "gan_uncurated": {"synthetic": "raw", "n_synthetic": 6, "real_minority": True, "augment": False},
    "gan_curated": {"synthetic": "curated", "n_synthetic": 600, "real_minority": True, "augment": False},
    "synthetic_only": {"synthetic": "curated", "n_synthetic": 1000, "real_minority": False, "augment": False},
    "real_oversampled": {
        "synthetic": "none",
        "n_synthetic": 0,
        "real_minority": True,
        "augment": True,
        "oversample_to": "gan_curated",
    },
}


def test_early_stopping_on_a_scripted_curve():
    curve = [0.10, 0.30, 0.25, 0.30, 0.50, 0.45, 0.44, 0.49, 0.50, 0.20, 0.90]
    stopper = EarlyStopping(patience=4)
    stopped_at = None
    for epoch, f1 in enumerate(curve, start=1):
        _, stop = stopper.step(epoch, f1)
        if stop:
            stopped_at = epoch
            break
    # best 0.50 at epoch 5 (an equal score at epoch 9 is not better): stop at 5 + 4
    assert (stopper.best_epoch, stopper.best, stopped_at) == (5, 0.50, 9)


def test_class_weight_modes():
    y = np.array([0] * 90 + [1] * 10)
    assert class_weights([1.0, 56.7], y) == [1.0, 56.7]
    w = class_weights("balanced", y)
    assert w == pytest.approx([100 / 180, 100 / 20])
    # balanced: total weight per class is equal, whatever the composition
    assert weighted_mass(w, y) == pytest.approx({"majority": 50.0, "minority": 50.0})
    # the study's fixed weights give each condition its own DF : NV mass (here 1 : 6.3)
    study = weighted_mass([1.0, 56.7], y)
    assert study["minority"] / study["majority"] == pytest.approx(567 / 90)


def test_augment_is_per_image_and_reproducible():
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (4, 3, 32, 32) and a.min() >= 0 and a.max() <= 1
    same = augment(x[:1].repeat(4, 1, 1, 1), torch.Generator().manual_seed(2))
    assert not torch.allclose(same[0], same[1])  # each image gets its own parameters


def test_augmentation_leaves_no_border_the_originals_lack():
    """Only DF images are augmented: black corners from zero padding would mark the label. With
    reflection (the default) augmented images carry no constant border; with the study's zeros
    they do."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 3, 48, 48, generator=g) * 200 + 40).to(torch.uint8)  # no pixel is dark

    def dark_corner_share(imgs: torch.Tensor) -> float:
        corners = torch.cat(
            [imgs[..., :3, :3], imgs[..., :3, -3:], imgs[..., -3:, :3], imgs[..., -3:, -3:]], -1
        )
        return float((corners.amax(dim=1) < 0.02).float().mean())

    assert dark_corner_share(x.float() / 255) == 0.0
    assert dark_corner_share(augment(x, torch.Generator().manual_seed(1))) == 0.0
    assert dark_corner_share(augment(x, torch.Generator().manual_seed(1), padding="zeros")) > 0.2
    with pytest.raises(ValueError, match="padding must be one of"):
        augment(x, g, padding="black")


@pytest.fixture
def world(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for split, n_min, n_maj in (("train", 8, 24), ("val", 4, 8), ("test", 4, 8)):
        for k in range(n_min + n_maj):
            target = int(k < n_min)
            img = np.full((32, 32, 3), 180 if target else 90, np.uint8) + rng.integers(
                0, 40, (32, 32, 3), dtype=np.uint8
            )
            path = tmp_path / "img" / f"{split}_{k}.png"
            path.parent.mkdir(exist_ok=True)
            cv2.imwrite(str(path), img)
            rows.append({"image_id": f"{split}_{k}", "path": str(path), "label": "x", "target": target,
                         "split": split, "lesion_id": "", "patient_id": "", "synthetic": False})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    for folder, n in (("raw", 10), ("curated", 5)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            cv2.imwrite(
                str(tmp_path / folder / f"generated_{i:04d}.png"),
                rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            )
    return tmp_path


@pytest.mark.parametrize(
    ("name", "real_min", "syn", "maj"),
    [("baseline", 8, 0, 24), ("traditional_aug", 8, 0, 24), ("gan_uncurated", 8, 6, 24),
     ("gan_curated", 8, 5, 24), ("synthetic_only", 0, 5, 24)],
)  # fmt: skip
def test_condition_composition(world, name, real_min, syn, maj):
    cond = Condition.from_dict(name, CONDITIONS[name])
    s, comp = training_set(world / "metadata.csv", cond, 42, world / "raw", world / "curated")
    assert (comp["real_minority"], comp["synthetic_minority"], comp["majority"]) == (real_min, syn, maj)
    assert comp["majority_per_minority"] == pytest.approx(maj / (real_min + syn), abs=1e-4)
    assert s.synthetic.sum() == syn and (s.target == 1).sum() == real_min + syn
    assert not any(i.startswith(("val_", "test_")) for i in s.ids)  # training never holds val/test
    again, _ = training_set(world / "metadata.csv", cond, 42, world / "raw", world / "curated")
    assert again.paths == s.paths  # the synthetic subset is seeded


def test_real_oversampled_matches_gan_curated_without_a_generator(world):
    """The equal-count control: real DF images repeated (evenly, seeded) up to gan_curated's
    minority count, no synthetic image."""
    cond = Condition.from_dict("real_oversampled", CONDITIONS["real_oversampled"])
    match = Condition.from_dict("gan_curated", CONDITIONS["gan_curated"])
    s, comp = training_set(world / "metadata.csv", cond, 42, world / "raw", world / "curated", match)
    _, curated = training_set(world / "metadata.csv", match, 42, world / "raw", world / "curated")
    assert comp["minority_total"] == curated["minority_total"] == 13
    assert (comp["real_minority"], comp["synthetic_minority"], comp["oversampled_repeats"]) == (8, 0, 5)
    assert not s.synthetic.any() and (s.target == 1).sum() == 13
    minority_paths = [p for p, t in zip(s.paths, s.target, strict=True) if t == 1]
    counts = pd.Series(minority_paths).value_counts()
    assert counts.max() - counts.min() <= 1  # every real image repeated as evenly as possible
    with pytest.raises(ValueError, match="oversample_to needs condition 'gan_curated'"):
        training_set(world / "metadata.csv", cond, 42, world / "raw", world / "curated")


def _synthetic_names(s) -> set[str]:
    return {p.split("/")[-1] for p, syn in zip(s.paths, s.synthetic, strict=True) if syn}


def test_smaller_synthetic_sets_are_nested_in_larger_ones(world):
    """One seeded order of the pool, cut shorter: 25 % and 50 % of the images gan_curated adds
    are inside each other and inside gan_curated's (the dose curve changes the count only)."""
    full = Condition("gan_curated", "curated", 5, True, False)
    sets = {}
    for f in (0.2, 0.6, 1.0):
        cond = Condition(f"frac_{f}", "curated", 0, True, False, synthetic_count_to="gan_curated",
                         synthetic_fraction=f)  # fmt: skip
        s, comp = training_set(world / "metadata.csv", cond, 42, world / "raw", world / "curated", full)
        assert comp["synthetic_minority"] == comp["synthetic_requested"] == int(np.floor(5 * f + 0.5))
        sets[f] = _synthetic_names(s)
    whole, _ = training_set(world / "metadata.csv", full, 42, world / "raw", world / "curated")
    assert sets[0.2] < sets[0.6] < sets[1.0] == _synthetic_names(whole)
    # and from the raw pool at gan_curated's count
    matched = Condition("gan_uncurated_matched", "raw", 0, True, False, synthetic_count_to="gan_curated")
    s, comp = training_set(world / "metadata.csv", matched, 42, world / "raw", world / "curated", full)
    assert comp["synthetic_minority"] == 5 and comp["synthetic_available"] == 10


def test_identical_training_sets_have_one_fingerprint(world):
    from ganaug.training.fit_record import training_fingerprint

    meta, raw, curated = world / "metadata.csv", world / "raw", world / "curated"
    a, _ = training_set(meta, Condition.from_dict("gan_curated", CONDITIONS["gan_curated"]), 42, raw, curated)
    b, _ = training_set(meta, Condition("gan_random", "curated", 5, True, False), 42, raw, curated)
    c, _ = training_set(world / "metadata.csv", Condition.from_dict("baseline", CONDITIONS["baseline"]), 42)
    fp = [training_fingerprint(s.ids, s.paths, s.synthetic, False) for s in (a, b, c)]
    assert fp[0] == fp[1] != fp[2]
    assert training_fingerprint(a.ids, a.paths, a.synthetic, True) != fp[0]  # augmentation is part of it


@pytest.mark.parametrize("cached", [False, True], ids=["decoded-by-the-fit", "decode_split-cache"])
def test_fit_reads_test_only_after_model_and_threshold_are_fixed(world, monkeypatch, cached):
    """With or without the decode_split rule's arrays, no test image is read before the epoch
    and threshold are fixed; and the cache changes no prediction, to the bit."""
    import ganaug.data.image_cache as cache_mod

    events: list[str] = []
    real_decode = cache_mod.decode_cache
    caches = {}
    if cached:
        for split in ("train", "val", "test"):
            npy = world / "cache" / f"{split}.npy"
            cache_mod.decode_split_rule(world / "metadata.csv", split, 32, npy, npy.with_suffix(".json"))
            caches[split] = npy
        real_open = cache_mod.SplitCache.__init__

        def opened(self, npy, metadata, split, size):
            events.append(f"open:{split}")
            real_open(self, npy, metadata, split, size)

        monkeypatch.setattr(cache_mod.SplitCache, "__init__", opened)
    real_fit, real_tune = clf_mod.fit, clf_mod.tune_threshold

    def decode(paths, size, progress=False):
        splits = {Path(p).name.split("_")[0] for p in paths}
        events.append("decode:" + ",".join(sorted(splits)))
        return real_decode(paths, size, progress)

    def fit(*a, **k):
        out = real_fit(*a, **k)
        events.append("fit done")
        return out

    def tune(y, p):
        events.append("threshold")
        return real_tune(y, p)

    monkeypatch.setattr(cache_mod, "decode_cache", decode)
    monkeypatch.setattr(clf_mod, "fit", fit)
    monkeypatch.setattr(clf_mod, "tune_threshold", tune)
    # an external set: its own metadata, split "external", images named ext_<k>
    meta = pd.read_csv(world / "metadata.csv")
    ext = meta[meta["split"] == "test"].copy()
    for k, row in enumerate(ext.itertuples()):
        path = world / "img" / f"ext_{k}.png"
        cv2.imwrite(str(path), cv2.imread(row.path)[::-1])  # flipped: another "camera"
        ext.loc[row.Index, ["image_id", "path"]] = (f"ext_{k}", str(path))
    ext.assign(split="external").to_csv(world / "external.csv", index=False)
    o = world / ("out_cached" if cached else "out")
    out = FitOutputs(
        *(o / n for n in ("m.pt", "h.csv", "p.csv", "m.json", "c.png", "cm.png", "pr.png", "tb")),
        external={"shifted": o / "ext" / "p.csv"},
    )
    cfg = FitConfig(batch_size=8, max_epochs=2, patience=2)
    digest = load_train_minority(world / "metadata.csv", 32).fingerprint()["digest"]
    job = FitJob(
        "resnet50", Condition.from_dict("gan_uncurated", CONDITIONS["gan_uncurated"]), 42, cfg, "random", 32
    )
    inputs = FitInputs(
        world / "metadata.csv",
        raw_dir=world / "raw",
        synthetic_training_set=digest,
        external={"shifted": world / "external.csv"},
    )
    res = fit_and_evaluate(
        job, replace(inputs, caches=caches), out, torch.device("cpu"), world, progress=False
    )
    # no test image, in distribution or external, is read before the epoch and threshold are fixed
    if cached:  # only the synthetic images are decoded by the fit
        assert events == ["open:train", "decode:generated", "open:val", "fit done", "threshold",
                          "open:test", "decode:ext"]  # fmt: skip
        plain = world / "plain"
        plain_out = FitOutputs(
            *(plain / n for n in ("m.pt", "h.csv", "p.csv", "m.json", "c.png", "cm.png", "pr.png", "tb")),
            external={"shifted": plain / "e.csv"},
        )
        res_plain = fit_and_evaluate(job, inputs, plain_out, torch.device("cpu"), world, progress=False)
        assert (plain / "p.csv").read_bytes() == out.predictions.read_bytes()
        assert (plain / "h.csv").read_bytes() == out.history.read_bytes()
        assert res_plain["threshold"] == res["threshold"]
    else:
        assert events == ["decode:generated,train", "decode:val", "fit done", "threshold", "decode:test",
                          "decode:ext"]  # fmt: skip
    ext_pred = pd.read_csv(out.external["shifted"])
    assert ext_pred["image_id"].tolist() == sorted(ext["image_id"])
    assert (ext_pred["pred_tuned"] == decide(ext_pred["prob"].to_numpy(), res["threshold"])).all()
    sk = sk_metrics(ext_pred["target"], ext_pred["prob"], ext_pred["pred_tuned"])
    assert res["external"]["shifted"]["tuned"]["f1"] == pytest.approx(sk["f1"], abs=1e-12)
    assert (
        res["external"]["shifted"]["n_images"] == len(ext) and res["external"]["shifted"]["n_minority"] == 4
    )
    # every figure in metrics.json is recomputable from predictions.csv
    pred = pd.read_csv(out.predictions)
    saved = json.loads(out.metrics.read_text())
    assert saved == json.loads(json.dumps(res))
    for decision, col in (("argmax", "pred_argmax"), ("tuned", "pred_tuned")):
        again = metrics(
            pred["target"],
            pred["prob"],
            decide(pred["prob"].to_numpy(), 0.5 if decision == "argmax" else saved["threshold"]),
        )
        assert (
            decide(pred["prob"].to_numpy(), 0.5 if decision == "argmax" else saved["threshold"]) == pred[col]
        ).all()
        for k, v in again.items():
            if isinstance(v, float):
                assert saved[decision][k] == pytest.approx(v, abs=1e-9), (decision, k)
            else:
                assert saved[decision][k] == v
    assert saved["composition"]["synthetic_minority"] == 6
    assert saved["generator_training_set"] == digest
    history = pd.read_csv(out.history)
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "train_accuracy",
        "train_f1",
        "val_loss",
        "val_accuracy",
        "val_f1",
        "val_pr_auc",
    ]
    # the epoch is chosen by validation PR-AUC, the threshold tuned afterwards; both recorded
    assert saved["epoch_criterion"] == "validation PR-AUC"
    assert saved["best_val_score"] == history.set_index("epoch").loc[saved["best_epoch"], "val_pr_auc"]
    assert saved["best_val_score"] == history["val_pr_auc"].max()
    assert saved["threshold_criterion"].startswith("F1 on the validation split")
    # balanced weights: equal weighted mass of DF and NV in this fit's own training set
    assert saved["class_weight_mode"] == "balanced"
    assert saved["weighted_mass"]["minority"] == pytest.approx(saved["weighted_mass"]["majority"])
    assert 1 <= saved["best_epoch"] <= len(history) <= 2
    for f in (out.model, out.curves, out.confusion, out.pr_curve):
        assert f.stat().st_size > 0


def test_a_fit_refuses_synthetic_images_of_another_split(world):
    """Synthetic images from a GAN trained on another training split are refused before anything
    is trained: that GAN may have seen lesions now in validation or test."""
    from ganaug.data.provenance import OtherTrainingSet

    out = FitOutputs(
        *(world / "o" / n for n in ("m.pt", "h.csv", "p.csv", "m.json", "c.png", "cm.png", "pr.png", "tb"))
    )
    cond = Condition.from_dict("gan_curated", CONDITIONS["gan_curated"])
    with pytest.raises(
        OtherTrainingSet, match=r"the curated synthetic set was made by a GAN trained on another"
    ):
        fit_and_evaluate(
            FitJob("resnet50", cond, 42, FitConfig(), "random", 32),
            FitInputs(
                world / "metadata.csv",
                curated_dir=world / "curated",
                synthetic_training_set="0123456789abcdef",
            ),
            out,
            torch.device("cpu"),
            world,
            progress=False,
        )
    assert not (world / "o").exists()


def test_a_last_batch_of_one_image_joins_the_one_before():
    """Batch norm cannot train on one image (one value per channel): 9 images in batches of 8
    train as one batch of 9, and every image gets its prediction."""
    from ganaug.loss_spec import LossSpec
    from ganaug.training.classifier import _train_epoch, _TrainData
    from ganaug.training.losses import training_loss

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))  # fmt: skip
    x = torch.randint(0, 256, (9, 3, 8, 8), dtype=torch.uint8)
    y = torch.tensor([0, 1] * 4 + [1])
    opt = torch.optim.Adam(model.parameters())
    sizes = []
    model.register_forward_hook(lambda m, inp, out: sizes.append(len(inp[0])))
    g, cpu = torch.Generator().manual_seed(0), torch.device("cpu")
    cfg = FitConfig(batch_size=8)
    data = _TrainData(x, y.numpy(), cpu)
    loss, preds = _train_epoch(
        model,
        opt,
        data,
        torch.arange(9),
        cfg,
        training_loss(LossSpec(), [4, 5], torch.ones(2)),
        g,
        False,
        cpu,
        lambda it: it,
    )
    assert sizes == [9] and len(preds) == 9 and np.isfinite(loss)
