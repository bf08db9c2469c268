"""Every registered generator family keeps the registry's contract, through the entry points the
rules call (``Family.train``, ``Family.sample``) on a metadata.csv and its PNGs, as the workflow
runs them: resume bit-identical after SIGKILL and SIGTERM, a checkpoint of another family moved
aside and one of no family refused, per-image sampling seeds, a generator file of another family
or of none refused, and the config's defaults equal to the schema's.

A new family needs its tiny settings in ``TINY`` below (the test says so when they are missing).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from ganaug.config import load_schema, validate_config
from ganaug.generators import FAMILIES, family
from ganaug.generators.loop import GeneratorOutputs, Snapshots
from ganaug.generators.resume import NoFamily
from ganaug.generators.sampling import GeneratorMismatch
from ganaug.training.checkpoints import load_checkpoint, save_checkpoint
from tests.helpers import REPO
from tests.unit.training.test_gan_training import max_diff, phantom_df, wait_for_checkpoint

SIZE = 32
# each family's smallest settings: a few seconds of training on the CPU, several checkpoints
TINY = {
    "wgan_gp": {
        "features_g": 4,
        "features_d": 4,
        "batch_size": 4,
        "total_iterations": 40,
        "checkpoint_interval": 5,
        "sample_interval": 20,
        "log_interval": 1,
        "n_samples": 6,
        "sample_batch_size": 4,
    },
    "ddpm": {
        "block_out_channels": [8, 16],
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "batch_size": 4,
        "total_steps": 24,
        "checkpoint_interval": 3,
        "sample_interval": 100,
        "log_interval": 1,
        "sampling_steps": 3,
        "warmup_steps": 3,
        "ema_decay": 0.99,
        "n_samples": 6,
        "sample_batch_size": 4,
    },
    "stylegan2_ada": {
        "z_dim": 8,
        "w_dim": 8,
        "mapping_layers": 2,
        "channel_base": 128,
        "channel_max": 8,
        "mbstd_group": 2,
        "batch_size": 4,
        "d_reg_interval": 2,
        "g_reg_interval": 2,
        "ema_kimg": 0.01,
        "ada_interval": 1,
        "ada_kimg": 0.1,
        "total_iterations": 12,
        "checkpoint_interval": 3,
        "sample_interval": 100,
        "log_interval": 1,
        "n_samples": 6,
        "sample_batch_size": 4,
    },
}
NAMES = sorted(FAMILIES)

DRIVER = """
import sys, yaml
from pathlib import Path
sys.path.insert(0, {scripts!r})
from tests.unit.generators.test_families import train
train({name!r}, Path({metadata!r}), Path({root!r}))
"""


def tiny(name: str) -> dict:
    if name not in TINY:
        pytest.fail(f"generator family {name!r} has no tiny settings: add them to TINY in {__file__}")
    return TINY[name]


def settings(name: str):
    return family(name).config.from_section(tiny(name), SIZE, 42)


SNAPSHOTS = 4  # kept along each tiny run (its checkpoints fall between some of them)


def snapshots(root: Path) -> Snapshots:
    return Snapshots(root / "snapshots", root / "snapshots.csv", SNAPSHOTS)


def train(name: str, metadata: Path, root: Path, threads: int = 1) -> None:
    """What the rule train_generator does for ``name``: its params and its section, with the
    snapshots kept."""
    fam = family(name)
    out = dataclasses.replace(GeneratorOutputs.in_folder(root), snapshots=snapshots(root))
    fam.train(metadata, settings(name).training_params(), tiny(name), out, "cpu", threads)


@pytest.fixture(scope="module")
def metadata(tmp_path_factory) -> Path:
    """A repeat's metadata.csv: 12 train-split minority PNGs (and rows no generator may read)."""
    root = tmp_path_factory.mktemp("meta")
    real = phantom_df(size=SIZE)
    rows = []
    for image_id, img in zip(real.ids, real.images, strict=True):
        path = root / f"{image_id}.png"
        cv2.imwrite(str(path), img.permute(1, 2, 0).numpy()[..., ::-1])
        rows.append(
            {"image_id": image_id, "path": str(path), "split": "train", "target": 1, "synthetic": False}
        )
    for split in ("val", "test"):  # files that do not exist: reading one would fail
        missing = {"image_id": f"X_{split}", "path": str(root / "none.png"), "split": split}
        rows.append({**missing, "target": 1, "synthetic": False})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root / "metadata.csv"


def start(name: str, metadata: Path, root: Path) -> subprocess.Popen:
    code = DRIVER.format(scripts=str(REPO / "scripts"), name=name, metadata=str(metadata), root=str(root))
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'scripts'}", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def reference(metadata, tmp_path_factory) -> dict[str, Path]:
    """An uninterrupted run of each family, in its own process."""
    out = {}
    for name in NAMES:
        root = tmp_path_factory.mktemp(f"ref_{name}")
        proc = start(name, metadata, root)
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        out[name] = root
    return out


def weights(blob: dict) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint or generator file, flattened by key path."""
    out = {}

    def walk(prefix: str, v) -> None:
        if isinstance(v, torch.Tensor):
            out[prefix] = v
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}/{k}", x)
        elif isinstance(v, list):
            for k, x in enumerate(v):
                walk(f"{prefix}/{k}", x)

    walk("", blob)
    return out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("name", NAMES)
def test_a_stopped_run_resumes_bit_identical(name, sig, metadata, reference, tmp_path):
    root = tmp_path / "run"
    proc = start(name, metadata, root)
    wait_for_checkpoint(proc, root / "last.pt", timeout=300)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert "Preempted" in err and "checkpoint written" in err
    state = load_checkpoint(root / "last.pt")
    assert state["family"] == name and 0 < state["iteration"] < settings(name).length
    assert not (root / "generator.pt").exists()
    proc = start(name, metadata, root)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    ref = reference[name]
    for file in ("generator.pt", "last.pt"):
        mine, theirs = weights(load_checkpoint(root / file)), weights(load_checkpoint(ref / file))
        assert max_diff(mine, theirs) == 0.0, file
    assert (root / "history.csv").read_text() == (ref / "history.csv").read_text()
    assert load_checkpoint(root / "generator.pt")["family"] == name
    # the snapshots too: the ones kept before the stop, those past its checkpoint rewritten
    length = settings(name).length
    index = pd.read_csv(root / "snapshots.csv")
    assert list(index.iloc[:, 1]) == snapshots(root).units(length) and len(index) == SNAPSHOTS
    for path in index["path"]:
        mine, theirs = load_checkpoint(path), load_checkpoint(ref / "snapshots" / Path(path).name)
        assert max_diff(weights(mine), weights(theirs)) == 0.0, path
    # the last snapshot holds the final weights, the file sampling would otherwise read
    last = weights(load_checkpoint(index["path"].iloc[-1]))
    assert max_diff(last, weights(load_checkpoint(root / "generator.pt"))) == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_of_another_family_is_moved_aside_and_one_of_none_refused(
    name, metadata, tmp_path, caplog
):
    other = next((n for n in NAMES if n != name), "another")
    root = tmp_path / "run"
    root.mkdir()
    foreign = {"family": other, "iteration": 1, "complete": False, "training_set": {}, "settings": {}}
    save_checkpoint(foreign, root / "last.pt")
    short = {**tiny(name), family(name).config.LENGTH_KEY: 2, "checkpoint_interval": 1}
    fam = family(name)
    cfg = fam.config.from_section(short, SIZE, 42)
    fam.train(metadata, cfg.training_params(), short, GeneratorOutputs.in_folder(root), "cpu", 1)
    assert sorted(p.name for p in root.glob("*superseded*")) == ["last.superseded-other-family-it1.pt"]
    assert f"checkpoint of the {other} generator, not of {name}" in caplog.text
    assert load_checkpoint(root / "last.pt")["iteration"] == 2
    save_checkpoint({"iteration": 1, "complete": False}, root / "last.pt")  # written before the registry
    with pytest.raises(NoFamily, match=r"records no generator family.*b\['family'\] = '<family>'"):
        fam.train(metadata, cfg.training_params(), short, GeneratorOutputs.in_folder(root), "cpu", 1)


@pytest.mark.parametrize("name", NAMES)
def test_each_image_comes_from_its_own_seed_and_other_families_files_are_refused(name, reference, tmp_path):
    fam, cfg = family(name), settings(name)
    generator = reference[name] / "generator.pt"
    folders = {}
    for batch in (cfg.n_samples, 4):  # one batch, and batches of 4: the same images
        params = {**cfg.sampling_params(), "sample_batch_size": batch}
        folders[batch] = tmp_path / f"b{batch}"
        fam.sample(generator, folders[batch], tmp_path / f"b{batch}.csv", params, "cpu", 1)
    names = sorted(p.name for p in folders[cfg.n_samples].glob("*.png"))
    assert len(names) == cfg.n_samples
    for n in names:  # DDIM's batched convolutions may round one grey level apart
        a, b = (cv2.imread(str(folders[k] / n)).astype(int) for k in folders)
        assert np.abs(a - b).max() <= 1, n
    manifest = pd.read_csv(tmp_path / "b4.csv")
    assert manifest["generator_training_set"].nunique() == 1
    assert manifest["generator_training_set"].iloc[0] == load_checkpoint(generator)["training_set"]["digest"]
    for other in (n for n in NAMES if n != name):
        with pytest.raises(GeneratorMismatch, match=rf"a {name} generator, not a"):
            params = settings(other).sampling_params()
            family(other).sample(generator, tmp_path / "x", tmp_path / "x.csv", params, "cpu", 1)
    blob = load_checkpoint(generator)
    del blob["family"]
    save_checkpoint(blob, tmp_path / "old.pt")
    with pytest.raises(GeneratorMismatch, match="records no generator family"):
        fam.sample(tmp_path / "old.pt", tmp_path / "y", tmp_path / "y.csv", cfg.sampling_params(), "cpu", 1)


def _schema_section(section: str) -> dict:
    return load_schema()["properties"][section]["properties"]


@pytest.mark.parametrize("name", NAMES)
def test_the_config_defaults_are_the_schemas(name):
    fam = family(name)
    props = _schema_section(fam.section)
    mine = fam.config(img_size=SIZE, seed=42)
    assert fam.settings({**validate_config({}), "data": {"image_size": SIZE}, "seed": 42}) == mine
    for f in dataclasses.fields(fam.config):
        if f.name in ("img_size", "seed"):  # the data's image size and the global seed
            continue
        assert f.name in props, (name, f.name)
        value = getattr(mine, f.name)
        assert (list(value) if isinstance(value, tuple) else value) == props[f.name]["default"], (
            name,
            f.name,
        )
    assert set(props) <= {f.name for f in dataclasses.fields(fam.config)}


@pytest.mark.parametrize("name", NAMES)
def test_the_family_interface(name):
    fam = family(name)
    cfg = fam.config.from_section({}, 64, 42)  # every key has a default
    assert (cfg.seed, cfg.img_size, cfg.length) == (42, 64, getattr(cfg, fam.config.LENGTH_KEY))
    params = cfg.training_params()
    assert dataclasses.asdict(fam.config.for_training(params, {})) == dataclasses.asdict(cfg) | {
        k: dataclasses.asdict(fam.config())[k] for k in fam.config.WATCH_KEYS
    }
    assert {"n_samples", "seed", "tf32", *fam.config.SAMPLED_WITH} <= set(cfg.sampling_params())
    assert fam.config.LENGTH_KEY not in cfg.sampling_params()
    assert not set(params) & {*fam.config.SAMPLING_KEYS, *fam.config.WATCH_KEYS}
    assert fam.length_key == f"{fam.section}.{fam.config.LENGTH_KEY}"
    stages = fam.cost(cfg, 3)
    assert [s.jobs for s in stages] == [3, 3] and stages[0].work
    # every family has folders of its own, and exactly one is the study's
    assert (
        len({f.directory for f in FAMILIES.values()})
        == len({f.synthetic for f in FAMILIES.values()})
        == len(FAMILIES)
    )
    assert sum(f.study for f in FAMILIES.values()) == 1
