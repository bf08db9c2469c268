"""StyleGAN2-ADA against the papers' definitions: each augmentation against its formula and its
probability, the controller, R1 against autograd's full Jacobian and a closed form, demodulation's
unit variance, the minibatch standard deviation by hand. Resume, sampling seeds and the wrong-
family checks run in test_families.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganaug.generators.stylegan2_ada import augment as A
from ganaug.generators.stylegan2_ada.config import StyleGan2AdaConfig, auto_gamma
from ganaug.generators.stylegan2_ada.losses import r1
from ganaug.generators.stylegan2_ada.networks import Discriminator, build, minibatch_std, modulated_conv2d


def identity(n: int) -> dict:
    """Every transform's identity parameter (p = 0 draws nothing)."""
    return A.draw(n, 16, 0.0, torch.Generator().manual_seed(0))["params"]


def geometric(x: torch.Tensor, **params) -> torch.Tensor:
    q = identity(len(x)) | {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    return A.apply_geometric(x, A.geometric_matrix(q, x.shape[-1]))


def fresh(n=3, size=12) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng().uniform(-1, 1, (n, 3, size, size))).float()


def test_flips_quarter_turns_and_integer_translations_are_exact():
    x = fresh()
    torch.testing.assert_close(geometric(x, xflip=[1, 1, 1]), x.flip(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(geometric(x, xflip=[0, 0, 0]), x, atol=1e-5, rtol=0)
    turns = {k: geometric(x, rotate90=[k] * 3) for k in range(4)}
    torch.testing.assert_close(turns[2], x.flip(2).flip(3), atol=1e-5, rtol=0)
    quarter = {torch.rot90(x, 1, (2, 3)), torch.rot90(x, -1, (2, 3))}
    for k in (1, 3):  # the two quarter turns, one each way
        assert sum(torch.allclose(turns[k], q, atol=1e-5) for q in quarter) == 1
    assert not torch.allclose(turns[1], turns[3], atol=1e-3)
    # an integer translation by (tx, ty) px: the image moved, the border reflected (numpy's
    # 'symmetric' padding: the edge pixel repeated, as grid_sample's reflection at the edges)
    tx, ty = 3, -2
    out = geometric(x[:1], xint=[[tx, ty]])
    pad = np.pad(x[:1].numpy(), ((0, 0), (0, 0), (5, 5), (5, 5)), mode="symmetric")
    want = pad[:, :, 5 - ty : 5 - ty + 12, 5 - tx : 5 - tx + 12]
    np.testing.assert_allclose(out.numpy(), want, atol=1e-5)


def test_the_continuous_geometric_transforms_sample_where_their_matrices_say():
    """A linear ramp is reproduced exactly by bilinear sampling, so each interior output pixel p
    must equal the ramp at T^-1 p (coordinates in pixels about the centre), T the transform's
    definition: x s (scale), R(theta) (rotation), diag(s, 1/s) (anisotropic), + t (translation)."""
    size = 32
    c = (torch.arange(size, dtype=torch.float64) + 0.5) - size / 2  # pixel centres about the centre
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    a, b = np.random.default_rng().uniform(-0.03, 0.03, 2)
    ramp = (a * xx + b * yy)[None, None].expand(1, 3, size, size).float()

    def expect(inv: np.ndarray) -> torch.Tensor:
        px, py = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2], inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
        return a * px + b * py

    th, s = 0.4, 1.3
    rot = np.array([[math.cos(th), -math.sin(th), 0], [math.sin(th), math.cos(th), 0], [0, 0, 1]])
    cases = {
        "scale": ({"scale": [s]}, np.diag([1 / s, 1 / s, 1])),
        "rotate": ({"rotate": [th]}, np.linalg.inv(rot)),
        "aniso": ({"aniso": [s]}, np.diag([1 / s, s, 1])),
        "xfrac": ({"xfrac": [[1.25, -0.5]]}, np.array([[1, 0, -1.25], [0, 1, 0.5], [0, 0, 1]])),
    }
    inner = slice(8, 24)  # away from the reflected border
    for name, (params, inv) in cases.items():
        out = geometric(ramp, **params)[0, 0].double()
        torch.testing.assert_close(out[inner, inner], expect(inv)[inner, inner], atol=1e-5, rtol=0, msg=name)


def test_the_colour_transforms_are_their_formulas():
    x = fresh(2)
    n = len(x)
    v = torch.ones(3) / math.sqrt(3)

    def colour(**params):
        q = identity(n) | {k: torch.as_tensor(val, dtype=torch.float64) for k, val in params.items()}
        return A.apply_colour(x, A.colour_matrix(q))

    luma = torch.einsum("c,nchw->nhw", v, x)[:, None] * v[None, :, None, None]  # the grey component
    torch.testing.assert_close(
        colour(brightness=[0.3, -0.1]), x + torch.tensor([0.3, -0.1])[:, None, None, None]
    )
    torch.testing.assert_close(colour(contrast=[1.5, 0.5]), x * torch.tensor([1.5, 0.5])[:, None, None, None])
    torch.testing.assert_close(colour(lumaflip=[1, 1]), x - 2 * luma, atol=1e-6, rtol=0)
    torch.testing.assert_close(colour(lumaflip=[0, 0]), x)
    # a third of a turn about the grey axis moves r to g, g to b, b to r (a cyclic permutation)
    third = colour(hue=[2 * math.pi / 3] * 2)
    cyc = {x[:, [2, 0, 1]], x[:, [1, 2, 0]]}
    assert sum(torch.allclose(third, c, atol=1e-5) for c in cyc) == 1
    torch.testing.assert_close(colour(saturation=[0.0, 0.0]), luma.expand_as(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(colour(saturation=[2.0, 2.0]), luma + 2 * (x - luma), atol=1e-5, rtol=0)


def test_each_transform_is_drawn_with_its_probability():
    n, p = 40_000, 0.3
    out = A.draw(n, 16, p, torch.Generator().manual_seed(int(np.random.default_rng().integers(1 << 30))))
    p_rot = 1 - math.sqrt(1 - p)

    def near(freq: float, want: float) -> bool:
        return abs(freq - want) < 4 * math.sqrt(want * (1 - want) / n)

    for name, gate in out["applied"].items():
        want = p_rot if name.startswith("rotate") and name != "rotate90" else p
        assert near(gate.double().mean().item(), want), name
        # where not applied, the identity
        q = out["params"][name]
        ident = {"scale": 1, "aniso": 1, "contrast": 1, "saturation": 1}.get(name, 0)
        assert torch.all(q[~gate] == ident), name
    # a rotation by one or the other: p in all; a flip only half the times it is drawn
    either = out["applied"]["rotate"] | out["applied"]["rotate_post"]
    assert near(either.double().mean().item(), p)
    assert near((out["params"]["xflip"] == 1).double().mean().item(), p / 2)
    assert near((out["params"]["rotate90"] == 2).double().mean().item(), p / 4)
    # p = 0: the images themselves, and nothing drawn from the stream
    g, x = torch.Generator().manual_seed(1), fresh()
    state = g.get_state()
    assert A.augment(x, 0.0, g) is x and torch.equal(g.get_state(), state)


def test_the_controller_moves_p_by_the_papers_step():
    # 64 images a step, 500k images from 0 to 1
    assert A.adjust_p(0.2, 0.9, 0.6, 256, 500) == pytest.approx(0.2 + 256 / 500_000)
    assert A.adjust_p(0.2, 0.1, 0.6, 256, 500) == pytest.approx(0.2 - 256 / 500_000)
    assert A.adjust_p(0.0, 0.1, 0.6, 256, 500) == 0.0 and A.adjust_p(1.0, 1.0, 0.6, 256, 500) == 1.0
    assert A.adjust_p(0.3, 0.6, 0.6, 256, 500) == 0.3


def _trainer(tmp_path, **kw):
    from ganaug.data.provenance import MinorityTrainSet
    from ganaug.generators.loop import GeneratorOutputs
    from ganaug.generators.stylegan2_ada.training import _Trainer

    small = dict(
        z_dim=8,
        w_dim=8,
        mapping_layers=2,
        channel_base=128,
        channel_max=16,
        mbstd_group=2,
        batch_size=4,
        ada_interval=1,
        ada_kimg=0.2,
        pl_weight=0.0,
        img_size=16,
        log_interval=1000,
        sample_interval=1000,
        checkpoint_interval=1000,
        total_iterations=1000,
    )
    cfg = StyleGan2AdaConfig(**(small | kw))
    rng = np.random.default_rng(3)
    images = torch.from_numpy(rng.integers(0, 256, (4, 3, 16, 16), dtype=np.uint8))
    ids = [f"ISIC_{i:07d}" for i in range(4)]
    return _Trainer(
        cfg, MinorityTrainSet(ids, images), GeneratorOutputs.in_folder(tmp_path), torch.device("cpu")
    )


def test_p_rises_when_the_discriminator_overfits_a_tiny_set_and_falls_when_it_cannot_tell(tmp_path):
    t = _trainer(tmp_path, lr=0.01)
    r_t = []
    for it in range(1, 41):
        t.advance(it)
        r_t.append(t.r_t)
    # four real images: the discriminator soon calls nearly every one of them real (r_t near 1),
    # and p climbs from 0 (to about 0.3, where the augmentations hold r_t near the target)
    assert np.mean(r_t[10:]) > 0.6 and t.p > 0.1
    # a discriminator that calls every image fake (r_t = -1) and cannot learn: p falls
    t = _trainer(tmp_path, lr=1e-12)
    with torch.no_grad():
        t.D.out.weight.zero_()
        t.D.out.bias.fill_(-100.0)
    t.p = 0.5
    for it in range(1, 11):
        t.advance(it)
    assert t.r_t == -1.0 and t.p == pytest.approx(0.5 - 10 * 4 / 200)


def test_r1_equals_autograds_full_jacobian_and_a_closed_form():
    torch.manual_seed(int(np.random.default_rng().integers(1 << 30)))
    d = Discriminator(16, 128, 16, mbstd_group=2).double()
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    ours = r1(d(x), x)
    # the minibatch-std layer couples the images: the gradient of the sum is the Jacobian's column sum
    jac = torch.autograd.functional.jacobian(lambda y: d(y), x.detach())  # (N, N, 3, H, W)
    torch.testing.assert_close(ours, jac.sum(dim=0).square().sum(dim=(1, 2, 3)))
    # D(x) = <w, x>: ||grad||^2 = ||w||^2 for every image
    w = torch.randn(3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(r1((x * w).sum(dim=(1, 2, 3)), x), w.square().sum().repeat(4))
    assert auto_gamma(256, 64) == pytest.approx(0.2048)
    assert StyleGan2AdaConfig(r1_gamma=None, img_size=64, batch_size=8).gamma == pytest.approx(0.1024)
    assert StyleGan2AdaConfig(r1_gamma=1.0).gamma == 1.0


def test_demodulation_keeps_unit_variance_and_its_absence_does_not():
    rng = np.random.default_rng()
    x = torch.randn(16, 32, 20, 20)
    weight = torch.randn(24, 32, 3, 3) * float(rng.uniform(0.2, 3))
    styles = torch.from_numpy(np.exp(rng.normal(0, 1, (16, 32)))).float()
    inner = modulated_conv2d(x, weight, styles)[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert inner.std().item() == pytest.approx(1.0, abs=0.05)
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    assert abs(raw.std().item() - 1.0) > 0.5


def test_minibatch_std_by_hand_and_the_networks_shapes():
    x = torch.randn(4, 5, 4, 4, dtype=torch.float64)
    out = minibatch_std(x, 2)
    for i in range(4):  # groups are images i and i + 2 (the official code's reshape(G, -1, ...))
        pair = x[[i % 2, i % 2 + 2]]
        want = (pair.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        torch.testing.assert_close(out[i, 5], want.expand(4, 4))
    torch.testing.assert_close(out[:, :5], x)
    with pytest.raises(ValueError, match="does not divide"):
        minibatch_std(torch.randn(3, 2, 4, 4), 2)
    shape = dict(
        img_size=32, z_dim=8, w_dim=8, mapping_layers=2, channel_base=256, channel_max=16, mbstd_group=2
    )
    g, d = build(shape, 42)
    assert g.num_ws == 8  # 4, 8, 16, 32 px: two w's a resolution
    img = g(torch.randn(2, 8))
    assert img.shape == (2, 3, 32, 32) and d(img).shape == (2,)
    g2, _ = build(shape, 42)
    torch.testing.assert_close(g2(torch.ones(1, 8)), g(torch.ones(1, 8)))  # seeded, fixed noise images
    with pytest.raises(ValueError, match="power of two"):
        StyleGan2AdaConfig(img_size=48)


def test_bf16_autocast_trains_with_the_augmentation_in_fp32(tmp_path):
    """bf16: the generator's forwards under autocast, the augmentation on fp32 images (bf16 has no
    CPU kernel for its anti-aliased resampling), every loss finite and the regularisers run."""
    t = _trainer(tmp_path, bf16=True, pl_weight=2.0, d_reg_interval=2, g_reg_interval=2, ada_interval=1)
    t.p = 0.5  # every transform in play
    for it in range(1, 5):
        t.advance(it)
    assert bool(torch.isfinite(t.window).all()) and t.window[4] > 0 and t.window[6] > 0  # R1, path length ran
