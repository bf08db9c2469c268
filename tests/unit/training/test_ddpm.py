"""The DDPM family beyond the registry's contract (tests/unit/generators/test_families.py, which
resumes it bit-exact, EMA, learning-rate schedule and random stream included): the study's
generator keeps its folders, DDPM samples differ by seed, and a file of another shape is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug.generators import DEFAULT, family
from ganaug.generators.ddpm.config import DdpmConfig
from tests.helpers import REPO
from tests.unit.training.test_gan_training import phantom_df

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
from ganaug.generators.ddpm.training import TrainSet, train
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


def test_ddpm_samples_are_per_image_and_the_wgan_sampler_refuses_them(reference):
    from ganaug.generators.ddpm.sampling import generate, load
    from ganaug.generators.wgan_gp.sampling import GeneratorMismatch, load_generator

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
