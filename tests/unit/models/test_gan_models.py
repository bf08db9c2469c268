"""The WGAN-GP networks are exactly the study's, and the penalty matches its closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganaug.generators.wgan_gp.losses import critic_loss, generator_loss, gradient_penalty
from ganaug.generators.wgan_gp.networks import SUPPORTED_SIZES, Discriminator, Generator


def layer_spec(model: nn.Module) -> list[tuple]:
    spec = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            spec.append(("Linear", m.in_features, m.out_features))
        elif isinstance(m, nn.ConvTranspose2d | nn.Conv2d):
            spec.append((type(m).__name__, m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d):
            spec.append((type(m).__name__, m.num_features))
        elif isinstance(m, nn.ReLU | nn.Tanh | nn.Unflatten | nn.Flatten):
            spec.append((type(m).__name__,))
        elif isinstance(m, nn.LeakyReLU):
            spec.append(("LeakyReLU", m.negative_slope))
    return spec


def test_default_generator_is_the_studys():
    k, s, p = (4, 4), (2, 2), (1, 1)
    want = [("Linear", 100, 4 * 4 * 1024), ("Unflatten",), ("BatchNorm2d", 1024), ("ReLU",)]
    for c_in, c_out in [(1024, 512), (512, 256), (256, 128), (128, 64), (64, 32)]:
        want += [("ConvTranspose2d", c_in, c_out, k, s, p), ("BatchNorm2d", c_out), ("ReLU",)]
    want += [("ConvTranspose2d", 32, 3, k, s, p), ("Tanh",)]
    assert layer_spec(Generator()) == want


def test_default_critic_is_the_studys():
    k, s, p = (4, 4), (2, 2), (1, 1)
    want = [("Conv2d", 3, 32, k, s, p), ("LeakyReLU", 0.2)]
    for c_in, c_out in [(32, 64), (64, 128), (128, 256), (256, 512), (512, 1024)]:
        want += [("Conv2d", c_in, c_out, k, s, p), ("InstanceNorm2d", c_out), ("LeakyReLU", 0.2)]
    want += [("Conv2d", 1024, 1, (4, 4), (1, 1), (0, 0)), ("Flatten",)]
    assert layer_spec(Discriminator()) == want
    assert not any(isinstance(m, nn.Sigmoid) for m in Discriminator().modules())


def _spatial_sizes(model: nn.Module, x: torch.Tensor) -> list[tuple]:
    sizes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Unflatten)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return sizes


@pytest.mark.parametrize("size", SUPPORTED_SIZES)
def test_shapes_at_every_stage(size):
    n = {32: 3, 64: 4, 128: 5, 256: 6}[size]
    fg = fd = 4
    gen = Generator(100, 3, fg, size).eval()
    got = _spatial_sizes(gen, torch.randn(2, 100))
    c0 = fg * 2**n
    want = [(c0, 4, 4)] + [(c0 // 2**k, 4 * 2**k, 4 * 2**k) for k in range(1, n)] + [(3, size, size)]
    assert got == want
    crit = Discriminator(3, fd, size)
    got = _spatial_sizes(crit, torch.randn(2, 3, size, size))
    want = [(fd * 2 ** (k + 1), size // 2 ** (k + 1), size // 2 ** (k + 1)) for k in range(n)] + [(1, 1, 1)]
    assert got == want
    assert crit(torch.randn(2, 3, size, size)).shape == (2,)
    out = gen(torch.randn(2, 100))
    assert out.min() >= -1 and out.max() <= 1


def test_unsupported_size():
    with pytest.raises(ValueError, match="img_size must be one of"):
        Generator(img_size=48)


class Linear(nn.Module):
    """f(x) = w . x: its gradient is w everywhere, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x.flatten(1) * self.w.flatten()).sum(1)


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.7])
def test_penalty_of_a_linear_critic_is_closed_form(scale):
    g = torch.Generator().manual_seed(int(scale * 10))
    w = torch.randn(3, 8, 8, generator=g)
    w = w / w.norm() * scale
    real, fake = torch.randn(5, 3, 8, 8, generator=g), torch.randn(5, 3, 8, 8, generator=g)
    gp = gradient_penalty(Linear(w), real, fake)
    assert gp.item() == pytest.approx((scale - 1) ** 2, rel=1e-5, abs=1e-6)


def test_penalty_is_per_sample_with_one_eps_each():
    """f(x) = ||x||^2 / 2: grad = x_hat, so the penalty is mean((||x_hat_i|| - 1)^2)."""

    class Half(nn.Module):
        def forward(self, x):
            return 0.5 * (x.flatten(1) ** 2).sum(1)

    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(4, 3, 6, 6, generator=g), torch.randn(4, 3, 6, 6, generator=g)
    eps = torch.rand(4, generator=g)
    x_hat = eps.view(4, 1, 1, 1) * real + (1 - eps.view(4, 1, 1, 1)) * fake
    want = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(Half(), real, fake, eps).item() == pytest.approx(want.item(), rel=1e-6)


def test_penalty_is_the_same_with_autocast_on():
    torch.manual_seed(0)
    crit = Discriminator(3, 4, 32)
    real, fake = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    eps = torch.rand(4)
    off = gradient_penalty(crit, real, fake, eps)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        on = gradient_penalty(crit, real.bfloat16(), fake.bfloat16(), eps)
    assert on.dtype == torch.float32
    # the inputs were rounded to bf16 before the call; the penalty itself runs in fp32
    ref = gradient_penalty(crit, real.bfloat16().float(), fake.bfloat16().float(), eps)
    assert on.item() == pytest.approx(ref.item(), rel=1e-6)
    assert on.item() == pytest.approx(off.item(), rel=2e-2)


def test_penalty_gradients_reach_the_critic():
    crit = Discriminator(3, 4, 32)
    gp = gradient_penalty(crit, torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32))
    gp.backward()
    # every convolution weight is trained by the penalty (a bias of the last layer, which
    # shifts the score but not its gradient, rightly gets none)
    weights = [m.weight for m in crit.modules() if isinstance(m, nn.Conv2d)]
    assert all(
        w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0 for w in weights
    )


def test_losses():
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    out = critic_loss(d_real, d_fake, torch.tensor(0.5), 10.0)
    assert out.wasserstein.item() == pytest.approx(3.0)  # 2 - (-1)
    assert out.total.item() == pytest.approx(-3.0 + 5.0)
    assert generator_loss(d_fake).item() == pytest.approx(1.0)
