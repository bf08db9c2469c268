"""The GPU's code paths, run without a GPU.

On torch's ``meta`` device (shapes only) every training step runs with its data placed as on a
GPU, under a dispatch mode that fails any op whose tensors are not all on one device (a CPU
scalar aside, as CUDA allows): a tensor made on the CPU inside a device loop and used there
fails here, as it would on CUDA, or worse, as an implicit copy that waits for the GPU (meta's own
kernels check only elementwise ops; tested: the guard catches a matmul and an index). bf16
autocast is gated on its flag, not on CUDA, so the bf16 dtype flow runs on the CPU (the gradient
penalty stays fp32). And the captured critic step's inputs come from the training stream exactly
as the eager step's do.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ganaug.data.provenance import MinorityTrainSet
from ganaug.generators.ddpm.config import DdpmConfig
from ganaug.generators.loop import GeneratorOutputs
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.generators.wgan_gp.training import _Trainer
from ganaug.settings import FitConfig

META = torch.device("meta")
GAN = WganGpConfig(img_size=32, features_g=4, features_d=4, batch_size=4)
DDPM = DdpmConfig(
    img_size=32,
    block_out_channels=(8, 16),
    layers_per_block=1,
    norm_num_groups=4,
    batch_size=4,
    warmup_steps=2,
)
NOWHERE = GeneratorOutputs.in_folder("/nonexistent")


class OneDevice(TorchDispatchMode):
    """Fails an op whose tensor arguments live on more than one device (0-dim CPU tensors are
    scalars, which CUDA kernels accept)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        leaves, _ = tree_flatten((args, kwargs or {}))
        devices = {
            t.device
            for t in leaves
            if isinstance(t, torch.Tensor) and not (t.device.type == "cpu" and t.dim() == 0)
        }
        assert len(devices) <= 1, f"{func} mixes devices {sorted(map(str, devices))}"
        return func(*args, **(kwargs or {}))


def train_set(n: int = 8, size: int = 32) -> MinorityTrainSet:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return MinorityTrainSet([f"ISIC_{i:07d}" for i in range(n)], x)


def test_the_wgan_gp_steps_keep_every_tensor_on_the_device():
    t = _Trainer(GAN, train_set(), NOWHERE, META)
    with OneDevice():
        loss = t.critic_step()
        assert loss.total.device == META and t.generator_step().device == META
        t.accumulate(loss, t.generator_step())
    assert t.window.device == META


def test_a_classifier_training_step_keeps_every_tensor_on_the_device():
    from ganaug.loss_spec import LossSpec
    from ganaug.models.classifiers import create_classifier
    from ganaug.training.classifier import _train_epoch, _TrainData, predict
    from ganaug.training.losses import training_loss

    torch.manual_seed(0)
    model = create_classifier("resnet50", "random", 2).to(META)
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    y = np.array([0, 1, 0, 1, 0, 0])
    data = _TrainData(x, y, META)
    assert data.x.device == META  # the images moved once, as onto a GPU
    opt = torch.optim.Adam(model.parameters())
    g = torch.Generator().manual_seed(0)
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(o.device))
    # augmentation on: its parameters are drawn on the host and must be moved. Every batch runs;
    # only the read-back after the epoch (the loop's one wait) has no values on meta
    with OneDevice(), pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
        _train_epoch(
            model,
            opt,
            data,
            torch.arange(6),
            FitConfig(batch_size=3),
            training_loss(LossSpec(), [3, 3], torch.ones(2, device=META)),
            g,
            True,
            META,
            lambda it: it,
        )
    assert calls == [META, META]
    with OneDevice(), pytest.raises(RuntimeError, match="meta"):  # predict: every batch, then the read-back
        predict(model, x, META, 4)
    assert calls == [META] * 4


def test_a_ddpm_step_keeps_every_tensor_on_the_device():
    from ganaug.generators.ddpm.training import TrainSet
    from ganaug.generators.ddpm.training import _Trainer as DdpmTrainer

    t = DdpmTrainer(DDPM, TrainSet(train_set()), NOWHERE, META)
    with OneDevice():
        t.step()
    assert t.window.device == META and all(s.device == META for s in t.ema.shadow_params)


@pytest.mark.parametrize(
    "op",
    [lambda a, c: a @ c, lambda a, c: a[torch.tensor([0, 1])], lambda a, c: a + c],
    ids=["matmul", "index with host indices", "add"],
)
def test_the_guard_catches_a_tensor_left_on_the_cpu(op):
    a, c = torch.ones(4, 4, device=META), torch.ones(4, 4)
    with OneDevice(), pytest.raises(AssertionError, match="mixes devices"):
        op(a, c)
    with OneDevice():  # a CPU scalar is allowed, as on CUDA
        a * torch.tensor(2.0)


def test_bf16_runs_the_gans_dtype_flow_on_the_cpu_with_the_penalty_in_fp32(monkeypatch):
    import ganaug.generators.wgan_gp.training as gan_mod

    seen = {}
    real_gp = gan_mod.gradient_penalty

    def spy(critic, real, fake, eps):
        seen["autocast_inside_penalty"] = torch.is_autocast_enabled("cpu")
        out = real_gp(critic, real, fake, eps)
        seen["penalty_dtype"] = out.dtype
        return out

    monkeypatch.setattr(gan_mod, "gradient_penalty", spy)
    cpu = torch.device("cpu")
    t = _Trainer(replace(GAN, bf16=True), train_set(), NOWHERE, cpu)
    outs = []
    t.critic.register_forward_hook(lambda m, i, o: outs.append(o.dtype))
    loss = t.critic_step()
    assert torch.bfloat16 in outs  # the forward on real and fake ran in bf16
    assert seen["penalty_dtype"] == torch.float32 and torch.isfinite(loss.total)
    assert t.settings["precision"] == "bf16+fp32"
    assert torch.isfinite(t.generator_step())


def test_bf16_runs_a_fit_and_a_ddpm_step_on_the_cpu_when_asked():
    from ganaug.generators.ddpm.training import TrainSet
    from ganaug.generators.ddpm.training import _Trainer as DdpmTrainer
    from ganaug.loss_spec import LossSpec
    from ganaug.training.classifier import _train_epoch, _TrainData
    from ganaug.training.losses import training_loss

    cpu = torch.device("cpu")
    assert FitConfig(bf16="auto").uses_bf16("cuda") and not FitConfig(bf16="auto").uses_bf16("cpu")
    assert FitConfig(bf16=True).uses_bf16("cpu") and not FitConfig(bf16=False).uses_bf16("cuda")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    dtypes = []
    model[0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    loss, _ = _train_epoch(
        model,
        torch.optim.Adam(model.parameters()),
        _TrainData(x, np.array([0, 1, 0, 1]), cpu),
        torch.arange(4),
        FitConfig(batch_size=4, bf16=True),
        training_loss(LossSpec(), [2, 2], torch.ones(2)),
        torch.Generator(),
        False,
        cpu,
        lambda it: it,
    )
    assert dtypes == [torch.bfloat16] and np.isfinite(loss)
    assert model[0].weight.dtype == torch.float32  # fp32 weights
    t = DdpmTrainer(replace(DDPM, bf16=True), TrainSet(train_set()), NOWHERE, cpu)
    t.step()
    assert torch.isfinite(t.window).all()


def test_the_captured_steps_inputs_are_the_eager_steps_draws():
    """gan.cuda_graph: the batch, the noise and the interpolation weights staged for a replay are
    the very numbers the eager step draws, in its order, and leave the stream where it leaves it
    (so a checkpoint's generator state is the same either way)."""
    cpu = torch.device("cpu")
    eager = _Trainer(GAN, train_set(), NOWHERE, cpu)
    drawn = {}
    real_update = eager._critic_update

    def record(idx, z, eps_of):
        eps = eps_of()
        drawn.update(idx=idx.clone(), z=z.clone(), eps=eps.clone())
        return real_update(idx, z, lambda: eps)

    eager._critic_update = record
    staged = _Trainer(GAN, train_set(), NOWHERE, cpu)
    staged._capture()  # the static inputs, as on CUDA (no graph is made on the CPU)
    for _ in range(3):  # across the sampler's pass boundary (8 images, batches of 4)
        eager.critic_step()
        staged.stage_critic_inputs()
        for k in ("idx", "z", "eps"):
            assert torch.equal(staged.static[k], drawn[k]), k
    assert torch.equal(eager.g.get_state(), staged.g.get_state())


def test_cuda_graph_refuses_what_a_graph_cannot_replay():
    with pytest.raises(ValueError, match=r"gan.cuda_graph cannot be combined with gan.diffaugment"):
        replace(GAN, cuda_graph=True, diffaugment="color")
    with pytest.raises(ValueError, match=r"gan.compile"):
        replace(GAN, cuda_graph=True, compile=True)
    # on the CPU the setting changes nothing: no graph, no capturable Adam, no record
    t = _Trainer(replace(GAN, cuda_graph=True), train_set(), NOWHERE, torch.device("cpu"))
    assert t.captured is None and "cuda_graph" not in t.settings
    assert not t.opt_d.param_groups[0]["capturable"]
