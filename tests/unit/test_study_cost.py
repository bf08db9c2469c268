"""benchmarks/study_cost.py and ganaug.cost.steps: the counts on torch's meta device against counts
of real steps, and the anchored projection of the study config, per stage."""

from __future__ import annotations

import json
import sys

import torch

from tests.helpers import REPO, run


def test_meta_device_counts_equal_a_real_steps_counts():
    """The GAN iteration's FLOPs on shapes alone equal FlopCounterMode on a real CPU iteration
    (ganaug.generators.wgan_gp.training.flops_per_iteration, two critic calls: the same FLOPs); a classifier
    step's FLOPs equal 3x its forward's, within the backward's extra elementwise work."""
    from ganaug.cost.steps import classifier_steps
    from ganaug.generators.wgan_gp.config import WganGpConfig
    from ganaug.generators.wgan_gp.cost import flops_per_iteration, gan_steps

    cfg = WganGpConfig(img_size=32, features_g=4, features_d=4, batch_size=4)
    critic, gen = gan_steps(cfg)
    iteration = critic.times(cfg.n_critic) + gen
    assert iteration.total_flops == flops_per_iteration(cfg, torch.device("cpu")) and iteration.ops > 0
    steps = classifier_steps("resnet50", 64, 4, 4)
    assert 2.9 < steps["train_step"].total_flops / steps["predict_batch"].total_flops < 3.1


def test_efficientnet_b0_is_counted_without_the_grouped_backward_overcount():
    """torch's counter gave EfficientNet-B0 about 42 GFLOP a training image at 256 px, 20x its
    forward; counted right, a training image is about 3x its forward (issue 28)."""
    from ganaug.cost.steps import classifier_steps

    st = classifier_steps("efficientnet_b0", 256, 2, 2)
    ratio = st["train_step"].total_flops / st["predict_batch"].total_flops
    assert 2.5 < ratio < 3.1
    assert st["predict_batch"].total_flops / 2 < 1.1e9  # about 0.5 GMAC at 224 px, scaled to 256


def test_the_ddpm_counts_equal_its_own_flop_count():
    """The DDPM's training step (forward, backward, clipping, AdamW, the batched EMA) counts the
    FLOPs of ganaug.generators.ddpm.training.flops_per_step (the optimiser's elementwise work counts
    none), and a sampling step is one UNet forward of the sampling batch."""
    from ganaug.generators.ddpm.config import DdpmConfig
    from ganaug.generators.ddpm.cost import ddpm_sampling, ddpm_step, flops_per_step

    shape = dict(
        img_size=32, block_out_channels=(8, 16), layers_per_block=1, attention_levels=1, norm_num_groups=4
    )
    cfg = DdpmConfig(**shape, batch_size=3, n_samples=10, sample_batch_size=4, sampling_steps=7)
    train, per_image = flops_per_step(cfg)
    step = ddpm_step(cfg)
    assert step.total_flops == train and step.ops > 0
    assert ddpm_sampling(cfg).total_flops == 4 * per_image


def test_the_study_config_is_projected_per_stage_with_its_range(tmp_path):
    out = tmp_path / "cost.json"
    res = run([sys.executable, str(REPO / "benchmarks/study_cost.py"), "--json", str(out)], timeout=600)
    assert res.returncode == 0, res.stderr
    cost = json.loads(out.read_text())
    assert cost["config"] == "config/config.yaml" and cost["epochs_per_fit"] == 20
    rows = {r["stage"]: r for r in cost["anchored"]["stages"]}
    # 18 conditions (real_extra needs data.extra_minority), per architecture; the three generators
    for arch in ("resnet50", "densenet121", "efficientnet_b0"):
        assert rows[f"fit {arch}"]["jobs"] == 12 * 18
    assert rows["train_gan"]["jobs"] == rows["train_ddpm"]["jobs"] == rows["sample_ddpm"]["jobs"] == 12
    assert rows["train_stylegan2_ada"]["jobs"] == rows["sample_stylegan2_ada"]["jobs"] == 12
    assert rows["curate_lpips"]["jobs"] == rows["curate_lpips ddpm"]["jobs"] == 12
    assert rows["curate_lpips stylegan2_ada"]["jobs"] == 12
    # snapshots.select: kid_val scores every family's snapshots in every repeat
    for tag in ("", " ddpm", " stylegan2_ada"):
        assert rows[f"select_snapshot{tag}"]["jobs"] == 12
    proj = cost["anchored"]["projection"]
    hours = [proj[c]["one_gpu"]["wall_hours"] for c in ("optimistic", "expected", "pessimistic")]
    assert 0 < hours[0] <= hours[1] <= hours[2]
    e = proj["expected"]
    # one job at a time adds the jobs up; sharing the GPU or 8 GPUs is faster
    assert e["one_gpu"]["wall_hours"] == e["one_gpu"]["serial_job_hours"]
    assert e["slurm"]["wall_hours"] < e["one_gpu_shared"]["wall_hours"] <= e["one_gpu"]["wall_hours"]
    assert {a["arch"] for a in cost["anchors"]} == {"resnet50", "densenet121", "efficientnet_b0"}
    assert "one H100, one job at a time (default profile)" in res.stdout
