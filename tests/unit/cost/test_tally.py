"""ganaug.cost.tally: FLOPs against an analytic count (torch's grouped-convolution backward
corrected), bytes, and which ops launch kernels."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganaug.cost.tally import META, tally


def conv_flops(n: int, c_in: int, c_out: int, groups: int, k: int, h_out: int, w_out: int) -> int:
    """A convolution's multiply-adds, twice: 2 N C_out (C_in / g) k^2 H_out W_out."""
    return 2 * n * c_out * (c_in // groups) * k * k * h_out * w_out


@pytest.mark.parametrize("groups", [1, 4, 16])
def test_a_grouped_convolution_step_counts_its_analytic_flops(groups):
    """Forward, then backward: the weight gradient costs what the forward does, and so does the
    input gradient of every convolution but the first (its input needs none). torch's own
    counter gives the weight gradient g times too many (depthwise: C times)."""
    n, c, size = 3, 16, 12
    net = nn.Sequential(
        nn.Conv2d(c, c, 3, padding=1, bias=False), nn.Conv2d(c, c, 3, padding=1, groups=groups, bias=False)
    ).to(META)
    x = torch.empty(n, c, size, size, device=META)
    per_conv = [conv_flops(n, c, c, 1, 3, size, size), conv_flops(n, c, c, groups, 3, size, size)]
    forward = sum(per_conv)
    # backward: weight gradients of both, the input gradient of the second only
    backward = per_conv[0] + 2 * per_conv[1]
    t = tally(lambda: net(x).sum().backward())
    assert t.total_flops == forward + backward
    with FlopCounterMode(display=False) as torch_count:
        net(x).sum().backward()
    torch_grad_weight = conv_flops(n, c * groups, c, groups, 3, size, size)  # C_in, not C_in / g
    assert torch_count.get_total_flops() == forward + backward - per_conv[1] + torch_grad_weight


def test_a_depthwise_network_forward_equals_torchs_count_and_its_backward_is_twice_it():
    """Forward counts agree with torch's FlopCounterMode (correct for groups); a training step of
    a depthwise-separable block costs 3x its forward, up to the first layer's input gradient."""
    c = 32
    block = nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1, groups=c), nn.Conv2d(c, c, 1)
    ).to(META)
    x = torch.empty(4, 3, 16, 16, device=META)
    with torch.no_grad():
        fwd = tally(lambda: block(x))
    with FlopCounterMode(display=False) as ref, torch.no_grad():
        block(x)
    assert fwd.total_flops == ref.get_total_flops()
    step = tally(lambda: block(x).sum().backward())
    first = conv_flops(4, 3, c, 1, 3, 16, 16)
    assert step.total_flops == 3 * fwd.total_flops - first


def test_views_dispatch_but_launch_no_kernel_and_bytes_count_reads_and_writes():
    x = torch.empty(8, 4, device=META)
    t = tally(lambda: (x.view(4, 8).t(), x.add_(1.0), x * 2))
    assert t.ops == 4 and t.kernels == 2  # view and t are views
    # add_: reads and writes x (128 B each way); mul: reads x, writes its result
    assert list(t.bytes) == [256.0, 256.0]
    assert (t + t).kernels == 4 and t.times(3).ops == 12 and t.times(3).total_bytes == 3 * t.total_bytes
