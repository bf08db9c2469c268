"""StyleGAN2's losses and regularisers (Karras et al. 2020, sections 2.2-3.2 and appendix B;
the ADA paper's training setup): pure functions of the networks' outputs.

- The non-saturating logistic loss (Goodfellow et al. 2014): the generator minimises
  softplus(-D(G(z))), the discriminator softplus(D(G(z))) + softplus(-D(x)).
- R1 (Mescheder et al. 2018): gamma / 2 * ||grad_x D(x)||^2 on real images, computed every
  ``d_reg_interval`` minibatches and scaled by that interval ("lazy regularisation"); with
  gamma from the paper's 'auto' rule, 0.0002 * resolution^2 / batch, unless set (``config.auto_gamma``).
- The path-length regulariser: (||J_w^T y|| - a)^2 with y Gaussian image noise scaled by
  1/sqrt(pixels) and a the running mean of the lengths (decay 0.01), on half a batch, every
  ``g_reg_interval`` minibatches, scaled by that interval.
- Lazy regularisation runs its own optimiser steps, so each optimiser's learning rate and betas
  are taken to the power c = interval / (interval + 1), as the paper does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def discriminator_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1(logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Per image ||d sum(logits) / d real||^2, differentiable (create_graph) for the step."""
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3))


def path_lengths(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """||J_w^T y|| per image, with y = ``noise`` / sqrt(H W) and the w's of every layer (the
    squared gradient summed over w's dimensions, averaged over layers, as the official code)."""
    h, w = images.shape[-2:]
    (grad,) = torch.autograd.grad((images * noise / math.sqrt(h * w)).sum(), ws, create_graph=True)
    return grad.square().sum(dim=2).mean(dim=1).sqrt()


def lazy_adam(params, lr: float, betas: tuple[float, float], interval: int) -> torch.optim.Adam:
    """Adam for a network regularised every ``interval`` minibatches: lr and betas to the power
    interval / (interval + 1) (no change when interval is 0: no regulariser)."""
    c = interval / (interval + 1) if interval > 0 else 1.0
    return torch.optim.Adam(params, lr=lr * c, betas=(betas[0] ** c, betas[1] ** c), eps=1e-8)
