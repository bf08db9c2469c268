"""WGAN-GP training: learning, exact kill-and-resume, SIGTERM, guards, and sampling."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import ganaug.generators.wgan_gp.training as gan_mod
from ganaug.data.phantom import plan, render
from ganaug.data.provenance import MinorityTrainSet
from ganaug.generators.loop import GeneratorOutputs, NonFiniteLoss
from ganaug.generators.resume import CheckpointAhead
from ganaug.generators.sampling import image_name
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.cost import flops_per_iteration
from ganaug.generators.wgan_gp.sampling import GeneratorMismatch, generate, load_generator, sample_images
from ganaug.generators.wgan_gp.training import train_gan
from ganaug.settings import PhantomConfig
from ganaug.training.checkpoints import load_checkpoint

TINY = WganGpConfig(
    img_size=32,
    features_g=4,
    features_d=4,
    batch_size=4,
    total_iterations=60,
    checkpoint_interval=7,
    sample_interval=30,
    log_interval=1,
)


def outputs(root: Path) -> GeneratorOutputs:
    return GeneratorOutputs(
        root / "ckpt" / "last.pt",
        root / "generator.pt",
        root / "history.csv",
        root / "curves.png",
        root / "grid.png",
        root / "samples",
        root / "tb",
    )


def phantom_df(n: int = 12, size: int = 32, seed: int = 5) -> MinorityTrainSet:
    cfg = PhantomConfig(n, 1, 0.0, 0.0, 96, 96, 90, seed)
    shots = [s for s in plan(cfg) if s.lesion.label == "dermatofibroma"][:n]
    imgs = [torch.from_numpy(render(s, 96, 96)[0]).permute(2, 0, 1) for s in shots]
    x = torch.stack(imgs).float()
    x = torch.nn.functional.interpolate(x, size=size, mode="area").round().to(torch.uint8)
    return MinorityTrainSet([f"ISIC_{seed}{i:06d}" for i in range(n)], x)


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() - t0 < timeout, "no checkpoint appeared"
        time.sleep(0.005)


def generator_weights(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / "generator.pt", weights_only=True)["state_dict"]


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_a_few_steps_reduce_the_critic_loss(tmp_path):
    cfg = replace(TINY, total_iterations=40, checkpoint_interval=100, sample_interval=100)
    hist = train_gan(cfg, phantom_df(), outputs(tmp_path), torch.device("cpu"), progress=False)
    assert len(hist) == 40
    assert hist.loss_d.iloc[-5:].mean() < hist.loss_d.iloc[:5].mean()
    for name in ("generator.pt", "history.csv", "curves.png", "grid.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_diffaugment_trains_too(tmp_path):
    cfg = replace(TINY, total_iterations=3, diffaugment="color,translation,cutout")
    hist = train_gan(cfg, phantom_df(), outputs(tmp_path), torch.device("cpu"), progress=False)
    assert np.isfinite(hist.to_numpy()).all()


def test_non_finite_loss_stops_with_iteration_and_checkpoint(tmp_path, monkeypatch):
    real_gp = gan_mod.gradient_penalty
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        gp = real_gp(*args, **kwargs)
        # iteration 9 is the first whose critic steps include call 41..45
        return gp * float("nan") if calls["n"] > 40 else gp

    monkeypatch.setattr(gan_mod, "gradient_penalty", flaky)
    with pytest.raises(
        NonFiniteLoss,
        match=r"non-finite loss at iteration 9 .*last good checkpoint: .*last.pt \(iteration 7\)",
    ):
        train_gan(TINY, phantom_df(), outputs(tmp_path), torch.device("cpu"), progress=False)
    assert load_checkpoint(tmp_path / "ckpt" / "last.pt")["iteration"] == 7


def test_too_few_images_for_a_batch(tmp_path):
    with pytest.raises(ValueError, match="only 3 minority training images for a batch size of 4"):
        train_gan(TINY, phantom_df(n=3), outputs(tmp_path), torch.device("cpu"), progress=False)


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level("INFO", logger="ganaug")


def run(cfg: WganGpConfig, root: Path, train: MinorityTrainSet | None = None):
    return train_gan(cfg, train or phantom_df(), outputs(root), torch.device("cpu"), progress=False)


def aside(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "ckpt").glob("last.superseded-*"))


def test_other_settings_move_the_checkpoint_aside_and_start_fresh(tmp_path, caplog):
    cfg = replace(TINY, total_iterations=3, checkpoint_interval=2)
    run(cfg, tmp_path)
    fresh = generator_weights(tmp_path)
    run(replace(cfg, lr_g=1e-3), tmp_path)
    assert aside(tmp_path) == ["last.superseded-other-settings-it3.pt"]
    assert "gan.lr_g: 0.0001 -> 0.001" in caplog.text and "training starts fresh" in caplog.text
    assert "training from scratch" in caplog.text
    # and back: the lr_g=1e-3 checkpoint is moved aside in turn, the result is the first run's
    run(cfg, tmp_path)
    assert len(aside(tmp_path)) == 2
    assert max_diff(fresh, generator_weights(tmp_path)) == 0


def test_a_checkpoint_of_another_split_is_never_resumed(tmp_path, caplog):
    """The bug: after data.split.seed changed, train_gan resumed the old split's GAN."""
    cfg = replace(TINY, total_iterations=4, checkpoint_interval=2)
    # an interrupted run on split A (killed after the checkpoint at iteration 2)
    run(replace(cfg, total_iterations=2), tmp_path, phantom_df(seed=5))
    state = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    state["complete"] = False
    torch.save(state, tmp_path / "ckpt" / "last.pt")
    # the split changes: other images, other ids
    split_b = phantom_df(seed=6)
    run(cfg, tmp_path, split_b)
    assert aside(tmp_path) == ["last.superseded-other-training-set-it2.pt"]
    assert "another training set" in caplog.text and "other images" in caplog.text
    alone = tmp_path / "alone"
    run(cfg, alone, split_b)
    assert max_diff(generator_weights(alone), generator_weights(tmp_path)) == 0
    # the same ids with other pixels are another training set too
    pixels = MinorityTrainSet(split_b.ids, 255 - split_b.images)
    run(replace(cfg, total_iterations=5), tmp_path, pixels)
    assert "other pixels" in caplog.text


def test_the_checkpoint_and_generator_record_their_training_set(tmp_path):
    train = phantom_df()
    run(replace(TINY, total_iterations=2), tmp_path, train)
    state = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    fp = train.fingerprint()
    assert state["training_set"]["ids"] == train.ids and state["training_set"]["digest"] == fp["digest"]
    assert state["training_set"]["shape"] == [12, 3, 32, 32]
    assert state["settings"]["lr_g"] == TINY.lr_g and state["settings"]["precision"] == "fp32"
    assert state["complete"] is True
    blob = torch.load(tmp_path / "generator.pt", weights_only=True)
    assert blob["training_set"]["digest"] == fp["digest"]


def test_a_checkpoint_beyond_total_iterations_is_refused(tmp_path):
    run(replace(TINY, total_iterations=4), tmp_path)
    with pytest.raises(CheckpointAhead, match=r"at iteration 4, further than gan.total_iterations = 2"):
        run(replace(TINY, total_iterations=2), tmp_path)
    assert (tmp_path / "ckpt" / "last.pt").exists()  # refused, not moved


def test_a_finished_run_forced_again_trains_anew_and_a_longer_one_continues(tmp_path, caplog):
    """snakemake -F / --forcerun train_gan used to 'retrain' in seconds by resuming the finished
    checkpoint. Now a finished run is moved aside and training starts over; raising
    total_iterations continues it instead."""
    cfg = replace(TINY, total_iterations=2)
    run(cfg, tmp_path)
    first = generator_weights(tmp_path)
    hist = run(cfg, tmp_path)
    assert aside(tmp_path) == ["last.superseded-finished-it2.pt"]
    assert "is a finished run of 2 iterations" in caplog.text
    assert hist.iteration.tolist() == [1, 2]
    assert max_diff(first, generator_weights(tmp_path)) == 0  # the same run again, on the CPU
    hist = run(replace(cfg, total_iterations=4), tmp_path)
    assert hist.iteration.tolist() == [1, 2, 3, 4]
    assert "resumed from" in caplog.text and len(aside(tmp_path)) == 1


def test_an_unreadable_checkpoint_is_kept_and_training_starts_fresh(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "last.pt").write_bytes(b"torn")
    run(replace(TINY, total_iterations=1), tmp_path)
    assert aside(tmp_path) == ["last.superseded-unreadable-itunknown.pt"]


def test_sampling_is_per_image_deterministic(tmp_path):
    cfg = replace(TINY, total_iterations=2)
    train_gan(cfg, phantom_df(), outputs(tmp_path), torch.device("cpu"), progress=False)
    a = sample_images(
        tmp_path / "generator.pt", tmp_path / "a", tmp_path / "a.csv", 10, 42, 4, torch.device("cpu"), False
    )
    sample_images(
        tmp_path / "generator.pt", tmp_path / "b", tmp_path / "b.csv", 10, 42, 10, torch.device("cpu"), False
    )
    assert a.image.tolist() == [f"generated_{i:04d}.png" for i in range(10)]
    for name in a.image:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    gen, _ = load_generator(tmp_path / "generator.pt", torch.device("cpu"))
    assert not gen.training
    alone = generate(gen, [7], 42, torch.device("cpu"))[0]
    import cv2

    written = cv2.cvtColor(cv2.imread(str(tmp_path / "a" / "generated_0007.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(alone, written)
    assert not np.array_equal(generate(gen, [7], 43, torch.device("cpu"))[0], alone)
    assert image_name(12345, 20000) == "generated_12345.png"


def test_generator_file_holds_weights_only(tmp_path):
    train_gan(
        replace(TINY, total_iterations=1),
        phantom_df(),
        outputs(tmp_path),
        torch.device("cpu"),
        progress=False,
    )
    blob = torch.load(tmp_path / "generator.pt", weights_only=True)
    assert set(blob) == {"family", "state_dict", "hparams", "training_set", "iteration"}
    assert blob["family"] == "wgan_gp" and blob["iteration"] == 1  # the weights after iteration 1
    assert blob["hparams"] == {"latent_dim": 100, "features_g": 4, "img_size": 32}


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (
            {"latent_dim": 100, "features_g": 8, "img_size": 32},
            r"another architecture or size: features_g 4 \(the config: 8\)",
        ),
        ({"latent_dim": 100, "features_g": 4, "img_size": 64}, r"img_size 32 \(the config: 64\)"),
    ],
)  # fmt: skip
def test_a_generator_of_another_architecture_or_size_is_refused(tmp_path, expected, message):
    run(replace(TINY, total_iterations=1), tmp_path)
    with pytest.raises(GeneratorMismatch, match=message):
        sample_images(tmp_path / "generator.pt", tmp_path / "s", tmp_path / "s.csv", 2, 42, 2,
                      torch.device("cpu"), False, expected)  # fmt: skip


def test_a_generator_file_that_does_not_fit_its_hparams_is_refused(tmp_path):
    run(replace(TINY, total_iterations=1), tmp_path)
    blob = torch.load(tmp_path / "generator.pt", weights_only=True)
    blob["hparams"]["features_g"] = 8  # says 8, holds 4
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(GeneratorMismatch, match=r"bad.pt: its weights do not fit"):
        load_generator(tmp_path / "bad.pt", torch.device("cpu"))
    torch.save({"family": "wgan_gp", "weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(GeneratorMismatch, match=r"expected a dict with 'state_dict' and 'hparams'"):
        load_generator(tmp_path / "foreign.pt", torch.device("cpu"))


def test_the_manifest_carries_the_training_set_and_curation_checks_it(tmp_path):
    """Sampling, curation and the fits can never combine outputs of different splits: the raw
    set's manifest names its GAN's training set, and check_raw_set compares it with the split."""
    import cv2
    import pandas as pd

    from ganaug.data.provenance import OtherTrainingSet, check_raw_set

    train = phantom_df()
    rows = []
    for iid, img in zip(train.ids, train.images, strict=True):
        path = tmp_path / f"{iid}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2BGR))
        rows.append({"image_id": iid, "path": str(path), "split": "train", "target": 1, "synthetic": False})
    rows.append({"image_id": "V1", "path": "nowhere.png", "split": "val", "target": 1, "synthetic": False})
    pd.DataFrame(rows).to_csv(tmp_path / "meta.csv", index=False)
    run(replace(TINY, total_iterations=1), tmp_path / "gan", train)
    table = sample_images(tmp_path / "gan/generator.pt", tmp_path / "raw", tmp_path / "m.csv", 3, 42, 3,
                          torch.device("cpu"), False)  # fmt: skip
    assert set(table.generator_training_set) == {train.fingerprint()["digest"]}
    assert check_raw_set(tmp_path / "m.csv", tmp_path / "meta.csv", 32) == train.fingerprint()["digest"]
    # the split moves one training image to validation: the raw set no longer belongs to it
    moved = pd.read_csv(tmp_path / "meta.csv")
    moved.loc[0, "split"] = "val"
    moved.to_csv(tmp_path / "meta.csv", index=False)
    with pytest.raises(OtherTrainingSet, match=r"m.csv\) was made by a GAN trained on another training set"):
        check_raw_set(tmp_path / "m.csv", tmp_path / "meta.csv", 32)


def test_flop_count_matches_the_issue_estimate():
    """About 1.6 TFLOP per generator iteration at the study's size (5 critic steps, batch 16)."""
    flops = flops_per_iteration(WganGpConfig(img_size=256), torch.device("cpu"))
    assert 1.4e12 < flops < 1.8e12


def test_only_train_split_minority_images_are_read(tmp_path):
    """Validation, test, majority and synthetic rows point at files that do not exist: the
    loader must filter before it opens anything."""
    import cv2
    import pandas as pd

    rows = []
    for i, (split, target, synthetic) in enumerate(
        [("train", 1, False), ("train", 1, False), ("val", 1, False), ("test", 1, False),
         ("train", 0, False), ("train", 1, True)]
    ):  # fmt: skip
        path = tmp_path / f"img{i}.png"
        if (split, target, synthetic) == ("train", 1, False):
            cv2.imwrite(str(path), np.full((64, 64, 3), 10 * i, np.uint8))
        rows.append({"image_id": f"i{i}", "path": str(path), "label": "x", "target": target,
                     "split": split, "synthetic": synthetic})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "meta.csv", index=False)
    from ganaug.data.provenance import load_train_minority

    train = load_train_minority(tmp_path / "meta.csv", 32)
    real = train.images
    assert train.ids == ["i0", "i1"]
    assert real.shape == (2, 3, 32, 32) and real.dtype == torch.uint8
    assert real[1].float().mean().item() == pytest.approx(10.0)


def test_one_critic_call_on_real_and_fake_matches_two_calls():
    """The critic scores the concatenated real and fake batch in one call. InstanceNorm is per
    image, so the scores equal two calls' exactly and the critic's gradients up to float
    summation order: checked against the two-call step as it was written before."""
    from ganaug.generators.wgan_gp.losses import critic_loss, gradient_penalty
    from ganaug.generators.wgan_gp.training import _Trainer

    cfg = replace(TINY, batch_size=6)
    steps = {}
    for name in ("merged", "two calls"):
        t = _Trainer(cfg, phantom_df(), outputs(Path("/nonexistent")), torch.device("cpu"))
        t.opt_d.step = lambda: None  # keep the gradients of the step, before Adam rescales them
        if name == "merged":
            loss = t.critic_step()
        else:  # the step of commit 97e90d7: the same draws, in the same order
            batch = t.real[t.sampler.next()]
            fake = t.gen_fwd(t._noise()).detach()
            d_real, d_fake = t.critic(batch), t.critic(fake)
            eps = torch.rand(cfg.batch_size, generator=t.g)
            gp = gradient_penalty(t.critic, batch, fake, eps)
            loss = critic_loss(d_real, d_fake, gp, cfg.lambda_gp)
            loss.total.backward()
        steps[name] = (loss, {k: p.grad.clone() for k, p in t.critic.named_parameters()})
    (a, ga), (b, gb) = steps["merged"], steps["two calls"]
    assert torch.equal(a.wasserstein, b.wasserstein) and torch.equal(a.penalty, b.penalty)
    # relative to the largest gradient: the biases before an InstanceNorm have a true gradient
    # of 0 (the norm removes them), so theirs are rounding noise in both
    scale = max(g.abs().max() for g in gb.values())
    for k in ga:
        err = ((ga[k] - gb[k]).abs().max() / scale).item()
        assert err < 1e-5, (k, err)
    # and the generator step's graph was not built in the critic step
    t = _Trainer(cfg, phantom_df(), outputs(Path("/nonexistent")), torch.device("cpu"))
    t.critic_step()
    assert all(p.grad is None for p in t.gen.parameters())


def test_a_sigterm_while_the_outputs_are_written_waits_for_them(tmp_path, monkeypatch, caplog):
    """The handler stays until the last output is written; before, it was restored first, and a
    late SIGTERM killed the job and lost up to a checkpoint interval of training. The job still
    stops as preempted, its checkpoint at the end unfinished, and the rerun trains nothing."""
    from ganaug.generators.loop import Preempted

    cfg = replace(TINY, total_iterations=3, checkpoint_interval=100)
    real_finish = gan_mod._finish

    def finish_under_a_signal(*a, **k):
        os.kill(os.getpid(), signal.SIGTERM)  # SLURM's preemption, mid-write
        return real_finish(*a, **k)

    monkeypatch.setattr(gan_mod, "_finish", finish_under_a_signal)
    with pytest.raises(Preempted, match="SIGTERM while the outputs were written: they were finished first"):
        run(cfg, tmp_path)
    assert (tmp_path / "generator.pt").exists() and (tmp_path / "grid.png").exists()
    state = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert (state["iteration"], state["complete"]) == (3, False)
    monkeypatch.setattr(gan_mod, "_finish", real_finish)
    hist = run(cfg, tmp_path)
    assert "at iteration 3" in caplog.text and len(hist) == 3
    assert load_checkpoint(tmp_path / "ckpt" / "last.pt")["complete"] is True
    run(cfg, tmp_path / "alone")
    assert max_diff(generator_weights(tmp_path / "alone"), generator_weights(tmp_path)) == 0


def test_a_kill_while_the_outputs_are_written_loses_no_training(tmp_path, monkeypatch, caplog):
    """The last iteration is checkpointed before the outputs are written: a rerun after a kill
    there resumes at the end and only writes them, to the same generator."""
    cfg = replace(TINY, total_iterations=9, checkpoint_interval=100)
    real_finish = gan_mod._finish

    def killed(*a, **k):
        raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this line runs

    monkeypatch.setattr(gan_mod, "_finish", killed)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path)
    state = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert (state["iteration"], state["complete"]) == (9, False)
    monkeypatch.setattr(gan_mod, "_finish", real_finish)
    hist = run(cfg, tmp_path)
    assert "at iteration 9" in caplog.text and hist.iteration.tolist() == list(range(1, 10))
    run(cfg, tmp_path / "alone")
    assert max_diff(generator_weights(tmp_path / "alone"), generator_weights(tmp_path)) == 0


def test_a_checkpoint_of_another_device_is_moved_aside_not_failed_on(tmp_path, caplog):
    """The device type is in the checkpoint's settings. A CUDA checkpoint met on the CPU (its
    random stream cannot continue here: set_state raised "wrong size" on every retry) is moved
    aside; one written before the device was recorded is told apart by its stream's state."""
    cfg = replace(TINY, total_iterations=4, checkpoint_interval=2)
    run(replace(cfg, total_iterations=2), tmp_path)
    path = tmp_path / "ckpt" / "last.pt"
    state = load_checkpoint(path)
    assert state["settings"]["device"] == "cpu"
    cuda_like = {**state, "complete": False, "rng": torch.zeros(16, dtype=torch.uint8)}
    cuda_like["settings"] = {**state["settings"], "device": "cuda", "precision": "tf32"}
    torch.save(cuda_like, path)
    run(cfg, tmp_path)
    assert aside(tmp_path) == ["last.superseded-other-device-it2.pt"]
    assert "device: 'cuda' -> 'cpu'" in caplog.text and "training starts fresh" in caplog.text
    # an older CPU checkpoint without the record: resumed
    old = {
        **state,
        "complete": False,
        "settings": {k: v for k, v in state["settings"].items() if k != "device"},
    }
    torch.save(old, path)
    caplog.clear()
    run(cfg, tmp_path)
    assert "resumed from" in caplog.text and len(aside(tmp_path)) == 1
    # and the same older record with a CUDA stream is another device's
    torch.save({**old, "rng": torch.zeros(16, dtype=torch.uint8)}, path)
    run(cfg, tmp_path)
    assert "last.superseded-other-device-it2.1.pt" in aside(tmp_path)
