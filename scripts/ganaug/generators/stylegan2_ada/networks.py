"""StyleGAN2's networks in plain PyTorch, from Karras et al., "Analyzing and Improving the Image
Quality of StyleGAN" (CVPR 2020), in the configuration its ADA paper trains (Karras et al.,
"Training Generative Adversarial Networks with Limited Data", NeurIPS 2020): the skip generator
and the residual discriminator (config F).

- **Equalised learning rate** (every layer): weights drawn N(0, 1) and scaled at run time by
  1/sqrt(fan_in); the mapping network's by a further learning-rate multiplier of 0.01.
- **Mapping network**: z normalised to unit second moment, then ``mapping_layers`` fully connected
  layers with leaky ReLU, z -> w.
- **Synthesis network**: a learnt 4 x 4 constant, then per resolution two 3 x 3 **modulated
  convolutions** (the first upsamples) and a 1 x 1 ToRGB; each convolution's weights are scaled
  per input channel by a style (an affine map of w, bias 1) and **demodulated**, divided by the
  L2 norm of each output channel's scaled weights, so unit-variance inputs give unit-variance
  outputs (section 2.2; tested). **Noise inputs**: per-pixel Gaussian noise added after each
  convolution with a learnt strength (zero at first); sampling uses a fixed noise image per layer,
  so an image depends on its latent vector only. **Skip** architecture: the RGB outputs of all
  resolutions are upsampled and summed.
- **Discriminator**: FromRGB at full resolution, then residual blocks (two 3 x 3 convolutions, the
  second downsampling, beside a 1 x 1 downsampling skip; the sum scaled by 1/sqrt(2)), and at 4 x 4
  the **minibatch standard deviation** channel, a convolution and two fully connected layers.

Resampling: the papers' [1, 3, 3, 1] FIR filter. Bilinear upsampling by 2 (``align_corners=False``)
is zero insertion followed by that filter, and antialiased bilinear downsampling by 2 is that
filter followed by decimation, so they are used here; convolutions commute, so upsampling before
the 3 x 3 convolution (or downsampling after it) spans the same networks as the papers' transposed
and strided convolutions with a blur. Borders differ (the papers pad with zeros, PyTorch's filters
replicate the edge). Channels: ``min(channel_base / resolution, channel_max)``; the paper's 256-px
setting is 16,384 and 512. Omitted: the truncation trick (sampling uses psi = 1, as FID is measured)
and the fp16 clamping of the official code (bf16 autocast is this workflow's mixed precision).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) with the gain sqrt(2) that keeps the signal's magnitude."""
    return F.leaky_relu(x, 0.2) * SQRT2


def up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def down2(x: torch.Tensor) -> torch.Tensor:
    # in fp32: the anti-aliased kernel has no bf16 version on the CPU (a bf16 autocast's
    # activations come back to their dtype after it); a no-op for fp32
    return F.interpolate(
        x.float(), scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True
    ).to(x.dtype)


class EqLinear(nn.Module):
    def __init__(self, fin: int, fout: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin) / lr_mul)
        self.bias = nn.Parameter(torch.full((fout,), float(bias_init)))
        self.w_gain, self.lr_mul, self.act = lr_mul / math.sqrt(fin), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.w_gain, self.bias * self.lr_mul)
        return lrelu(x) if self.act else x


class EqConv(nn.Module):
    """An equalised-learning-rate convolution; ``down`` downsamples its output by 2."""

    def __init__(self, cin: int, cout: int, k: int, bias: bool = True, act: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.gain, self.act, self.down = 1 / math.sqrt(cin * k * k), act, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.gain, self.bias, padding=self.weight.shape[-1] // 2)
        x = down2(x) if self.down else x
        return lrelu(x) if self.act else x


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True
) -> torch.Tensor:
    """x (N, I, H, W), weight (O, I, k, k), styles (N, I): each image's own weights w * s,
    divided by sqrt(sum over I, k, k of (w * s)^2 + 1e-8) per output channel when demodulating
    (the paper's eq. 3), applied as one grouped convolution."""
    n, cin, h, w_ = x.shape
    cout, _, k, _ = weight.shape
    wts = weight[None] * styles[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        wts = wts * (wts.square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()[:, :, None, None, None]
    out = F.conv2d(x.reshape(1, n * cin, h, w_), wts.reshape(n * cout, cin, k, k), padding=k // 2, groups=n)
    return out.reshape(n, cout, h, w_)


class SynthesisLayer(nn.Module):
    """Modulated 3 x 3 convolution (upsampling first when ``up``), noise, bias, leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = EqLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Generator | None) -> torch.Tensor:
        """``noise``: the generator of fresh per-pixel noise (training), or None for the fixed
        noise image (sampling: the image depends on w only)."""
        x = up2(x) if self.up else x
        x = modulated_conv2d(x, self.weight, self.affine(w))
        n, _, h, w_ = x.shape
        if noise is None:
            nz = self.noise_const.to(x.dtype)[None, None]
        else:
            nz = torch.randn((n, 1, h, w_), generator=noise, device=noise.device).to(x.device, x.dtype)
        return lrelu(x + nz * self.noise_strength + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """A modulated 1 x 1 convolution without demodulation (the style carries 1/sqrt(fan_in))."""

    def __init__(self, cin: int, w_dim: int):
        super().__init__()
        self.affine = EqLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(3, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(3))
        self.gain = 1 / math.sqrt(cin)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = modulated_conv2d(x, self.weight, self.affine(w) * self.gain, demodulate=False)
        return y + self.bias[None, :, None, None]


def channels(resolution: int, base: int, cmax: int) -> int:
    return max(1, min(base // resolution, cmax))


def resolutions(img_size: int) -> list[int]:
    """4, 8, ..., img_size (a power of two, at least 8)."""
    n = round(math.log2(img_size))
    if img_size < 8 or 2**n != img_size:
        raise ValueError(f"StyleGAN2 generates square images of a power of two from 8 px, not {img_size}")
    return [2**k for k in range(2, n + 1)]


class Synthesis(nn.Module):
    def __init__(self, w_dim: int, img_size: int, base: int, cmax: int):
        super().__init__()
        res = resolutions(img_size)
        c4 = channels(4, base, cmax)
        self.const = nn.Parameter(torch.randn(c4, 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList([ToRGB(c4, w_dim)])
        self.first = SynthesisLayer(c4, c4, w_dim, 4)
        for r in res[1:]:
            cin, cout = channels(r // 2, base, cmax), channels(r, base, cmax)
            pair = [SynthesisLayer(cin, cout, w_dim, r, up=True), SynthesisLayer(cout, cout, w_dim, r)]
            self.convs.append(nn.ModuleList(pair))
            self.torgbs.append(ToRGB(cout, w_dim))
        # the w each layer reads: 4 px: conv, ToRGB; then two convs and a ToRGB a resolution, where
        # a ToRGB shares the index of the next resolution's first conv (as the official code)
        self.num_ws = 2 * len(res)

    def forward(self, ws: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, 3, size, size), about [-1, 1]."""
        x = self.const[None].expand(len(ws), -1, -1, -1)
        x = self.first(x, ws[:, 0], noise)
        img = self.torgbs[0](x, ws[:, 1])
        for i, ((c0, c1), torgb) in enumerate(zip(self.convs, self.torgbs[1:], strict=True)):
            x = c1(c0(x, ws[:, 1 + 2 * i], noise), ws[:, 2 + 2 * i], noise)
            img = up2(img) + torgb(x, ws[:, 3 + 2 * i])
        return img


class Mapping(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.fcs = nn.ModuleList(
            [EqLinear(a, b, lr_mul=lr_mul, act=True) for a, b in itertools.pairwise(dims)]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for fc in self.fcs:
            x = fc(x)
        return x


class Generator(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, mapping_layers: int, img_size: int, base: int, cmax: int):
        super().__init__()
        self.z_dim = z_dim
        self.mapping = Mapping(z_dim, w_dim, mapping_layers)
        self.synthesis = Synthesis(w_dim, img_size, base, cmax)
        self.num_ws = self.synthesis.num_ws

    def ws(self, z: torch.Tensor) -> torch.Tensor:
        """One w per layer: (N, num_ws, w_dim)."""
        return self.mapping(z)[:, None].expand(-1, self.num_ws, -1)

    def forward(self, z: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        return self.synthesis(self.ws(z), noise)


def minibatch_std(x: torch.Tensor, group: int) -> torch.Tensor:
    """One more channel: the standard deviation of each feature over a group of ``group`` images
    (the whole batch when smaller), averaged over features and pixels (StyleGAN2, one channel)."""
    n, c, h, w = x.shape
    g = min(group, n)
    if n % g:
        raise ValueError(f"the minibatch-std group {g} does not divide the batch {n}")
    y = x.reshape(g, -1, c, h, w).float()
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # (N / g, c, h, w)
    y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # (N / g,)
    y = y.reshape(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


class DBlock(nn.Module):
    """Residual: (skip(x) + conv1(conv0(x))) / sqrt(2), both halving the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv0 = EqConv(cin, cin, 3)
        self.conv1 = EqConv(cin, cout, 3, down=True)
        self.skip = EqConv(cin, cout, 1, bias=False, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(down2(x)) + self.conv1(self.conv0(x))) / SQRT2


class Discriminator(nn.Module):
    def __init__(self, img_size: int, base: int, cmax: int, mbstd_group: int):
        super().__init__()
        res = resolutions(img_size)
        self.fromrgb = EqConv(3, channels(img_size, base, cmax), 1)
        self.blocks = nn.Sequential(
            *(DBlock(channels(r, base, cmax), channels(r // 2, base, cmax)) for r in reversed(res[1:]))
        )
        c4 = channels(4, base, cmax)
        self.mbstd_group = mbstd_group
        self.conv = EqConv(c4 + 1, c4, 3)
        self.fc = EqLinear(c4 * 16, c4, act=True)
        self.out = EqLinear(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """images (N, 3, size, size) -> logits (N,)."""
        x = self.blocks(self.fromrgb(img))
        x = self.conv(minibatch_std(x, self.mbstd_group))
        return self.out(self.fc(x.flatten(1))).squeeze(1)


def build(shape: dict, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """The generator and discriminator of ``shape`` (config.SHAPE_KEYS and mbstd_group); seeded
    weights (and fixed noise images) when ``seed`` is given, without touching the global stream."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        size, base, cmax = shape["img_size"], shape["channel_base"], shape["channel_max"]
        g = Generator(shape["z_dim"], shape["w_dim"], shape["mapping_layers"], size, base, cmax)
        d = Discriminator(size, base, cmax, shape["mbstd_group"])
    return g, d
