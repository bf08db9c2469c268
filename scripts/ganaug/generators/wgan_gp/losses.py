"""WGAN-GP losses (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Alg. 1).

The critic minimises  E[D(fake)] - E[D(real)] + lambda * E[(||grad_x D(x_hat)||_2 - 1)^2]
with x_hat = eps * real + (1 - eps) * fake, one eps ~ U[0, 1] per sample; the generator
minimises -E[D(fake)]. E[D(real)] - E[D(fake)] is the Wasserstein estimate that is logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """mean((||grad D(x_hat)||_2 - 1)^2), the L2 norm taken over all pixels of each sample.

    Always computed in float32 with autocast off: under bf16 the norm of a gradient through a
    double backward loses the precision the penalty is about (tested against fp32).
    ``eps`` (shape (B,)) may be passed for reproducibility; by default it is drawn here.
    """
    b = real.shape[0]
    if eps is None:
        eps = torch.rand(b, device=real.device)
    # (benchmarks/study_cost.py counts this on torch's meta device, which autocast does not know)
    with torch.autocast(device_type="cpu" if real.device.type == "meta" else real.device.type, enabled=False):
        eps = eps.to(real.device, torch.float32).view(b, *([1] * (real.dim() - 1)))
        x_hat = (eps * real.float() + (1 - eps) * fake.float().detach()).requires_grad_(True)
        scores = critic(x_hat).float()
        (grad,) = torch.autograd.grad(
            scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True, retain_graph=True
        )
        norm = grad.reshape(b, -1).norm(2, dim=1)
        return ((norm - 1) ** 2).mean()


@dataclass(frozen=True)
class CriticLoss:
    total: torch.Tensor  # what the critic minimises
    wasserstein: torch.Tensor  # E[D(real)] - E[D(fake)], detached
    penalty: torch.Tensor  # the gradient penalty before lambda, detached


def critic_loss(
    d_real: torch.Tensor, d_fake: torch.Tensor, penalty: torch.Tensor, lambda_gp: float
) -> CriticLoss:
    w = d_real.float().mean() - d_fake.float().mean()
    return CriticLoss(-w + lambda_gp * penalty, w.detach(), penalty.detach())


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.float().mean()
