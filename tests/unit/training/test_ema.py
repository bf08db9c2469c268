"""The DDPM's batched EMA update: bit-identical to diffusers' per-tensor loop on the CPU, in a
handful of multi-tensor ops."""

from __future__ import annotations

import torch
from diffusers.training_utils import EMAModel
from torch.utils._python_dispatch import TorchDispatchMode

from ganaug.generators.ddpm.ema import BatchedEma


class _Ops(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


def test_the_batched_update_equals_the_per_tensor_loop_bit_for_bit():
    g = torch.Generator().manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GroupNorm(2, 8), torch.nn.Linear(8, 4))
    net[1].weight.requires_grad_(False)  # a frozen tensor: its shadow is a copy, as in EMAModel
    loop = EMAModel(net.parameters(), decay=0.999, use_ema_warmup=True)
    batched = BatchedEma(net.parameters(), decay=0.999, use_ema_warmup=True)
    for _ in range(40):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn(p.shape, generator=g))
        loop.step(net.parameters())
        batched.step(net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(loop.shadow_params, batched.shadow_params, strict=True))
    assert loop.state_dict()["optimization_step"] == batched.state_dict()["optimization_step"] == 40
    assert batched.cur_decay_value == loop.cur_decay_value


def test_the_batched_update_dispatches_three_ops_where_the_loop_dispatches_three_a_tensor():
    net = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(50)])  # 100 tensors
    loop, batched = EMAModel(net.parameters()), BatchedEma(net.parameters())
    counts = []
    for ema in (loop, batched):
        with _Ops() as ops:
            ema.step(net.parameters())
        counts.append(ops.n)
    assert counts == [300, 3]
