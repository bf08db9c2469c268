"""The classifier's training loss, chosen per condition: the study's class-weighted cross-entropy,
or one of the long-tail baselines that correct the imbalance in the loss alone, with no synthetic
and no repeated images, at the baseline's training budget (same epochs, same data):

- **logit adjustment** (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021, eq. 10,
  the logit-adjusted softmax cross-entropy): ``CE(z + tau * log pi, y)``, with pi the class
  frequencies of the fit's own training set. Predictions use the plain logits z;
- **balanced softmax** (Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition",
  NeurIPS 2020, eq. 4): ``-log(n_y exp(z_y) / sum_j n_j exp(z_j))``, with n_j the class counts.
  It equals logit adjustment at tau = 1 (log n_j = log pi_j + log N, and the softmax ignores a
  shift shared by every class: tested), so the two conditions differ only for tau != 1;
- **focal loss** (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, eq. 5):
  ``-alpha_t (1 - p_t)^gamma log p_t``, p_t the softmax probability of the true class, alpha_t =
  alpha for the minority class and 1 - alpha for the majority (the paper's alpha = 0.25 and
  gamma = 2 by default; alpha < 0 drops the weighting).

None of them uses ``classifier.class_weights``: they correct the imbalance themselves. The
validation loss in the history stays the class-weighted one for every condition, so it reads the
same way across conditions (the epoch is chosen by validation PR-AUC or F1, never by a loss).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganaug.loss_spec import WEIGHTED_CE, LossSpec


def logit_adjusted_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, prior: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """Menon et al. 2021: the mean cross-entropy of the logits plus tau x the log class prior."""
    return F.cross_entropy(logits + tau * prior.log(), y)


def balanced_softmax_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, counts: torch.Tensor
) -> torch.Tensor:
    """Ren et al. 2020: the mean cross-entropy of the softmax with each class's exp(z_j) weighted
    by its training count n_j."""
    return F.cross_entropy(logits + counts.log(), y)


def focal_loss(
    logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25
) -> torch.Tensor:
    """Lin et al. 2017: the mean of -alpha_t (1 - p_t)^gamma log p_t over the batch, from the
    softmax of two-class logits (class 1 the minority); log p_t from log_softmax, stable for any
    logit."""
    log_pt = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    loss = -((1 - log_pt.exp()) ** gamma) * log_pt
    if alpha >= 0:
        loss = loss * torch.where(y == 1, loss.new_tensor(alpha), loss.new_tensor(1 - alpha))
    return loss.mean()


def training_loss(
    spec: LossSpec, counts: list[int], weights: torch.Tensor
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss a fit trains with, from its training set's class ``counts`` and, for the
    weighted cross-entropy, its class ``weights`` (on the device the logits are on)."""
    if spec.name == WEIGHTED_CE:
        return lambda logits, y: F.cross_entropy(logits, y, weight=weights)
    if any(c == 0 for c in counts):  # log 0: a class the training set lacks has no prior
        raise ValueError(f"the {spec.name} loss needs both classes in the training set (counts {counts})")
    n = torch.tensor(counts, dtype=torch.float32, device=weights.device)
    if spec.name == "logit_adjusted":
        prior = n / n.sum()
        return lambda logits, y: logit_adjusted_cross_entropy(logits, y, prior, spec.tau)
    if spec.name == "balanced_softmax":
        return lambda logits, y: balanced_softmax_cross_entropy(logits, y, n)
    return lambda logits, y: focal_loss(logits, y, spec.gamma, spec.alpha)
