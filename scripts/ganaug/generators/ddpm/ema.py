"""The DDPM's exponential moving average of its weights, updated in three multi-tensor ops.

diffusers' ``EMAModel.step`` updates the shadow weights one tensor at a time: three ops for each
of the UNet's tensors (392 in the study's), over a thousand kernel launches a step on a GPU.
``BatchedEma`` keeps everything else of ``EMAModel`` (the decay and its warm-up, the step count,
``state_dict``, ``copy_to``) and does the same arithmetic over all tensors at once:
``d = shadow - param``, ``d *= 1 - decay``, ``shadow -= d``. Those are the very elementwise
operations of the loop (not ``lerp`` or a fused ``sub(alpha=...)``, which round differently), so
the shadow weights are bit-identical to the loop's on the CPU (tested), and the demo's DDPM with
them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from diffusers.training_utils import EMAModel


class BatchedEma(EMAModel):
    @torch.no_grad()
    def step(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        params = list(parameters)
        self.optimization_step += 1
        decay = self.get_decay(self.optimization_step)
        self.cur_decay_value = decay
        pairs = list(zip(self.shadow_params, params, strict=True))
        frozen = [(s, p) for s, p in pairs if not p.requires_grad]
        if frozen:  # as EMAModel: a frozen tensor's shadow is a copy of it
            torch._foreach_copy_([s for s, _ in frozen], [p for _, p in frozen])
        shadow = [s for s, p in pairs if p.requires_grad]
        live = [p for _, p in pairs if p.requires_grad]
        if not shadow:
            return
        diff = torch._foreach_sub(shadow, live)
        torch._foreach_mul_(diff, 1 - decay)
        torch._foreach_sub_(shadow, diff)
