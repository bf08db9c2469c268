"""benchmarks/study_cost.py: its counts on torch's meta device against counts of real steps, and
its projection for the study config (the goal: at most 3 h on one H100)."""

from __future__ import annotations

import importlib.util
import json
import sys

import torch

from tests.helpers import REPO, run


def _module():
    spec = importlib.util.spec_from_file_location("study_cost", REPO / "benchmarks/study_cost.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["study_cost"] = mod  # its dataclasses look themselves up there
    spec.loader.exec_module(mod)
    return mod


def test_meta_device_counts_equal_a_real_steps_counts():
    """The GAN iteration's FLOPs on shapes alone equal FlopCounterMode on a real CPU iteration
    (ganaug.training.gan.flops_per_iteration, two critic calls: the same FLOPs); a classifier
    step's FLOPs equal 3x its forward's, within the backward's extra elementwise work."""
    from ganaug.settings import GanConfig
    from ganaug.training.gan import flops_per_iteration

    mod = _module()
    cfg = GanConfig(img_size=32, features_g=4, features_d=4, batch_size=4)
    flops, ops = mod.gan_iteration(cfg)
    assert flops == flops_per_iteration(cfg, torch.device("cpu")) and ops > 0
    steps = mod.classifier_steps("resnet50", 64, 4, 4)
    train_flops, predict_flops = steps["train_step"][0], steps["predict_batch"][0]
    assert 2.9 < train_flops / predict_flops < 3.1


def test_the_ddpm_counts_equal_its_own_flop_count():
    """The DDPM's training step (forward, backward, clipping, AdamW, EMA) counts the FLOPs of
    ganaug.training.diffusion.flops_per_step (the optimiser's elementwise work counts none), and
    its sampling is sampling_steps UNet forwards for each of ceil(n / batch) batches."""
    from ganaug.settings import DdpmConfig
    from ganaug.training.diffusion import flops_per_step

    mod = _module()
    shape = dict(
        img_size=32, block_out_channels=(8, 16), layers_per_block=1, attention_levels=1, norm_num_groups=4
    )
    cfg = DdpmConfig(**shape, batch_size=3, n_samples=10, sample_batch_size=4, sampling_steps=7)
    train, per_image = flops_per_step(cfg)
    flops, ops = mod.ddpm_step(cfg)
    assert flops == train and ops > 0
    sample_flops, _ = mod.ddpm_sampling(cfg)
    assert sample_flops == 3 * 7 * 4 * per_image  # 3 batches of 4 (the last one full size)


def test_the_study_config_projects_to_at_most_three_hours_on_one_h100(tmp_path):
    out = tmp_path / "cost.json"
    res = run([sys.executable, str(REPO / "benchmarks/study_cost.py"), "--json", str(out)], timeout=300)
    assert res.returncode == 0, res.stderr
    cost = json.loads(out.read_text())
    assert cost["config"] == "config/config.yaml" and cost["epochs_per_fit"] == 20
    assert 0 < cost["one_gpu"]["wall_hours"] <= 3.0
    assert cost["slurm"]["gpus"] == 8 and cost["slurm"]["wall_hours"] < cost["one_gpu"]["wall_hours"]
    jobs = {s["stage"]: s["jobs"] for s in cost["stages"]}
    # 13 conditions: real_extra needs data.extra_minority; ddpm_uncurated and ddpm_curated
    assert jobs["train_gan"] == 5 and jobs["fit"] == 5 * 3 * 13
    assert jobs["train_ddpm"] == jobs["sample_ddpm"] == 5 and jobs["curate_lpips"] == 10
    assert "one GPU, 4 jobs at a time" in res.stdout
