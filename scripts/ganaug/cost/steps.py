"""One step of the classifiers' and the feature networks' GPU stages, tallied on torch's meta
device at the config's sizes (each generator family tallies its own steps, in its cost module).

Each function builds the stage's real networks (random weights: the counts do not depend on
them), moves them to ``meta`` and tallies one step as the workflow runs it, in its steady state
(an optimiser's state is made on its first step, so that step is run once untallied).
"""

from __future__ import annotations

import functools

import torch

from ganaug.cost.tally import META, Tally, tally
from ganaug.models.classifiers import _build, arch_spec, replace_head


def foreach_like(tensors: list[torch.Tensor], ops: int, passes: float) -> Tally:
    """What ``ops`` multi-tensor (foreach) kernels over ``tensors`` cost: one dispatch and one
    kernel each, moving the tensors' bytes ``passes`` times in all (meta tensors have no foreach
    norm, so gradient clipping is tallied this way)."""
    import numpy as np

    total = sum(t.numel() * t.element_size() for t in tensors)
    return Tally(ops, np.zeros(ops), np.full(ops, passes * total / ops))


@functools.cache
def classifier_steps(arch: str, size: int, batch: int, eval_batch: int) -> dict[str, Tally]:
    """One training step (forward, backward, Adam) and one prediction batch of ``arch`` (tallied
    once a process: the projection and its anchors' table share them)."""
    spec = arch_spec(arch)
    torch.manual_seed(0)
    model = _build(spec)
    replace_head(model, spec, 2)
    model = model.to(META)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4, foreach=True)

    def train_step():
        x = torch.empty(batch, 3, size, size, device=META)
        loss = torch.nn.functional.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long, device=META))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def predict():
        with torch.no_grad():
            model(torch.empty(eval_batch, 3, size, size, device=META))

    model.train()
    train_step()
    out = {"train_step": tally(train_step)}
    model.eval()
    out["predict_batch"] = tally(predict)
    return out


@functools.cache
def feature_pass(name: str, size: int, batch: int) -> Tally:
    """A forward batch of the curation's and the GAN metrics' feature networks (tallied once a
    process: every family's curation, metrics and snapshot scoring share them)."""
    import torchvision

    if name == "inception":
        model, size = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False), 299
    else:  # the curation's LPIPS trunk: VGG16's features (ganaug.curation.lpips_fast)
        model = torchvision.models.vgg16(weights=None).features
    model = model.to(META).eval()
    with torch.no_grad():
        return tally(lambda: model(torch.empty(batch, 3, size, size, device=META)))
