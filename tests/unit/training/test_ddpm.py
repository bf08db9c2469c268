"""The generator registry, and the DDPM family's contract: resume bit-exact on the CPU after
SIGKILL and SIGTERM (EMA, learning-rate schedule and random stream included), a checkpoint of
another family moved aside, per-image sampling."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug.generators import DEFAULT, FAMILIES, family
from ganaug.settings import DdpmConfig
from ganaug.training.checkpoints import load_checkpoint, save_checkpoint
from tests.helpers import REPO
from tests.unit.training.test_gan_training import max_diff, outputs, phantom_df, wait_for_checkpoint

TINY = DdpmConfig(img_size=32, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                  batch_size=4, total_steps=30, checkpoint_interval=4, sample_interval=100, log_interval=1,
                  sampling_steps=3, warmup_steps=3, ema_decay=0.99)  # fmt: skip

DRIVER = """
import sys, torch
from pathlib import Path
sys.path.insert(0, {scripts!r})
torch.set_num_threads(1)
from tests.unit.training.test_ddpm import TINY
from tests.unit.training.test_gan_training import outputs
from ganaug.data.provenance import MinorityTrainSet
from ganaug.training.diffusion import TrainSet, train
real = torch.load({data!r})
train_set = MinorityTrainSet([f"ISIC_{{i:07d}}" for i in range(len(real))], real)
train(TINY, TrainSet(train_set), outputs(Path({root!r})), torch.device("cpu"), progress=False)
"""


def start(root: Path, data: Path) -> subprocess.Popen:
    code = DRIVER.format(scripts=str(REPO / "scripts"), data=str(data), root=str(root))
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'scripts'}"}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )


def ema_weights(root: Path) -> dict:
    return torch.load(root / "generator.pt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_registered_family_has_the_interface(name):
    fam = family(name)
    cfg = fam.config.from_section({}, 64, 42)  # every key has a default
    assert cfg.seed == 42 and cfg.img_size == 64
    params = cfg.training_params()
    assert dataclasses.asdict(fam.config.for_training(params, {})) == dataclasses.asdict(cfg) | {
        k: dataclasses.asdict(fam.config())[k] for k in fam.config.WATCH_KEYS
    }
    assert {"n_samples", "seed"} <= set(cfg.sampling_params())
    assert not set(cfg.sampling_params()) & {"total_iterations", "total_steps"}
    assert callable(fam.train) and callable(fam.sample)
    assert fam.length_key.startswith(fam.section + ".")
    # every family has folders of its own
    assert (
        len({f.directory for f in FAMILIES.values()})
        == len({f.synthetic for f in FAMILIES.values()})
        == len(FAMILIES)
    )


def test_the_study_generator_keeps_its_folders():
    wgan = family(DEFAULT)
    assert (DEFAULT, wgan.directory, wgan.synthetic, wgan.section) == ("wgan_gp", "gan", "synthetic", "gan")
    assert (family("ddpm").directory, family("ddpm").synthetic) == ("ddpm", "synthetic_ddpm")
    with pytest.raises(ValueError, match=r"unknown generator 'stylegan9'.*wgan_gp"):
        family("stylegan9")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddpm_ref")
    data = root / "real.pt"
    torch.save(phantom_df().images, data)
    proc = start(root / "run", data)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return root / "run", data


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_ddpm_resumes_bit_identical_ema_included(reference, tmp_path, sig):
    ref, data = reference
    root = tmp_path / "run"
    proc = start(root, data)
    wait_for_checkpoint(proc, root / "ckpt" / "last.pt", timeout=300)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert "Preempted" in err and "checkpoint written" in err
    state = load_checkpoint(root / "ckpt" / "last.pt")
    assert 0 < state["iteration"] < TINY.total_steps and not (root / "generator.pt").exists()
    assert state["family"] == "ddpm" and state["ema"]["optimization_step"] == state["iteration"]
    proc = start(root, data)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert max_diff(ema_weights(ref), ema_weights(root)) == 0.0  # the EMA weights, which are sampled
    final, ref_final = load_checkpoint(root / "ckpt" / "last.pt"), load_checkpoint(ref / "ckpt" / "last.pt")
    assert max_diff(final["unet"], ref_final["unet"]) == 0.0
    assert (root / "history.csv").read_text() == (ref / "history.csv").read_text()


def test_a_checkpoint_of_another_family_is_moved_aside(tmp_path, caplog):
    from ganaug.training.diffusion import TrainSet, train

    out = outputs(tmp_path)
    out.checkpoint.parent.mkdir(parents=True)
    save_checkpoint({"iteration": 3, "complete": False, "training_set": {}, "settings": {}}, out.checkpoint)
    cfg = dataclasses.replace(TINY, total_steps=2)
    train(cfg, TrainSet(phantom_df()), out, torch.device("cpu"), progress=False)
    aside = sorted(p.name for p in out.checkpoint.parent.glob("*superseded*"))
    assert aside == ["last.superseded-other-family-it3.pt"]
    assert "checkpoint of the wgan_gp generator, not of ddpm" in caplog.text
    assert load_checkpoint(out.checkpoint)["iteration"] == 2


def test_ddpm_samples_are_per_image_and_the_wgan_sampler_refuses_them(reference):
    from ganaug.training.diffusion import generate, load
    from ganaug.training.sample import GeneratorMismatch, load_generator

    ref, _ = reference
    net, blob = load(ref / "generator.pt", torch.device("cpu"), TINY.sampling_params())
    cpu = torch.device("cpu")
    batch = generate(net, blob, [0, 1, 2, 3], 42, 3, cpu).astype(int)
    alone = generate(net, blob, [2], 42, 3, cpu).astype(int)
    assert batch.shape == (4, 32, 32, 3) and abs(batch[2] - alone[0]).max() <= 1
    assert abs(batch[0] - batch[1]).max() > 10  # other seeds, other images
    with pytest.raises(GeneratorMismatch, match="a ddpm generator, not a WGAN-GP one"):
        load_generator(ref / "generator.pt", cpu)
    with pytest.raises(GeneratorMismatch, match="block_out_channels"):
        load(ref / "generator.pt", cpu, {**TINY.sampling_params(), "block_out_channels": [8, 32]})
