"""Every op one step dispatches, with its FLOPs and bytes, counted on shapes alone.

``tally(fn)`` runs ``fn`` (on tensors of torch's ``meta`` device, so nothing is computed) under a
dispatch mode that records, per aten op: whether it launches a kernel (views and allocations do
not), its FLOPs by torch's own formulas (``torch.utils.flop_counter``), and the bytes of its
tensor inputs and outputs (an in-place op reads and writes its tensor: counted twice, as it is
moved twice).

One formula is corrected. torch's ``conv_backward_flop`` computes the weight gradient as a
convolution whose "batch" is the input's channels, without dividing by ``groups``: a grouped
convolution's backward is counted (1 + g)/2 times too large, a depthwise one's (C + 1)/2 times
(EfficientNet-B0's 42 GFLOP a training image against a 1.0 GFLOP forward). Here the weight
gradient counts 2 N (C_in / g) C_out k^2 H_out W_out, as the forward does (tested against an
analytic count with groups 1 and C).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import conv_flop_count, flop_registry, shape_wrapper

aten = torch.ops.aten
META = torch.device("meta")

# ops that dispatch but launch no kernel: shape bookkeeping and allocation
_NO_KERNEL = {
    aten.empty.memory_format,
    aten.empty_like.default,
    aten.empty_strided.default,
    aten.new_empty.default,
    aten.new_empty_strided.default,
    aten.lift_fresh.default,
    aten._local_scalar_dense.default,
}


def conv_backward_flop(
    grad_out_shape,
    x_shape,
    w_shape,
    _bias,
    _stride,
    _padding,
    _dilation,
    transposed,
    _output_padding,
    groups,
    output_mask,
    out_shape=None,
    **kwargs,
) -> int:
    """torch's formula with the weight gradient divided by ``groups`` (see the module docstring)."""
    flops = 0
    if output_mask[0]:  # grad_input as a transposed convolution of grad_out with the weight: exact
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:  # grad_weight: every weight element, summed over batch and output positions
        spatial = (x_shape if transposed else grad_out_shape)[2:]
        n, c_out_w, c_in_w, *k = x_shape[0], *w_shape
        flops += 2 * n * c_out_w * c_in_w * prod(k) * prod(spatial)
    return flops


FORMULAS = {**flop_registry, aten.convolution_backward: shape_wrapper(conv_backward_flop)}


def _bytes(tree) -> int:
    leaves, _ = tree_flatten(tree)
    return sum(t.numel() * t.element_size() for t in leaves if isinstance(t, torch.Tensor))


@dataclass
class Tally:
    """One step's ops: ``ops`` dispatched in all (each costs the host a dispatch), and per kernel
    its FLOPs and bytes (arrays of one entry a kernel). ``launched``: the kernels the host itself
    launches, where that is not every kernel (a CUDA graph's replay launches them all at once)."""

    ops: int
    flops: np.ndarray
    bytes: np.ndarray
    launched: int | None = None

    @property
    def kernels(self) -> int:
        return len(self.flops)

    @property
    def host_kernels(self) -> int:
        return self.kernels if self.launched is None else self.launched

    @property
    def total_flops(self) -> float:
        return float(self.flops.sum())

    @property
    def total_bytes(self) -> float:
        return float(self.bytes.sum())

    def __add__(self, other: Tally) -> Tally:
        launched = None
        if self.launched is not None or other.launched is not None:
            launched = self.host_kernels + other.host_kernels
        return Tally(
            self.ops + other.ops,
            np.concatenate([self.flops, other.flops]),
            np.concatenate([self.bytes, other.bytes]),
            launched,
        )

    def times(self, n: int) -> Tally:
        """``n`` repetitions of the step (the same kernels, n times)."""
        launched = None if self.launched is None else self.launched * n
        return Tally(self.ops * n, np.tile(self.flops, n), np.tile(self.bytes, n), launched)

    def replayed(self, host: Tally) -> Tally:
        """This step replayed from a CUDA graph: its kernels on the GPU, while the host dispatches
        only ``host`` (the inputs it refills) and one graph launch."""
        return Tally(
            host.ops + 1,
            np.concatenate([self.flops, host.flops]),
            np.concatenate([self.bytes, host.bytes]),
            host.kernels + 1,
        )


EMPTY = Tally(0, np.zeros(0), np.zeros(0))


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.flops: list[float] = []
        self.bytes: list[float] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.ops += 1
        if func.is_view or func in _NO_KERNEL:
            return out
        formula = FORMULAS.get(func._overloadpacket)
        self.flops.append(float(formula(*args, **kwargs, out_val=out)) if formula else 0.0)
        self.bytes.append(float(_bytes((args, kwargs)) + _bytes(out)))
        return out


def tally(fn: Callable[[], object]) -> Tally:
    """The ops, and each kernel's FLOPs and bytes, of ``fn()``."""
    rec = _Recorder()
    with rec:
        fn()
    return Tally(rec.ops, np.asarray(rec.flops, dtype=np.float64), np.asarray(rec.bytes, dtype=np.float64))
