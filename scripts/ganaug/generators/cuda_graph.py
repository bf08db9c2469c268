"""A training step replayed from a CUDA graph: thousands of kernel launches become one.

A GAN's critic step (the study's: its forward on real and fake, the penalty's double backward, Adam)
dispatches about 1,200 ops on the host at 256 px; on a GPU whose kernels each take a few
microseconds the host's dispatching, not the GPU, sets the pace. A CUDA graph records the step's
kernels once and replays them with one launch (PyTorch, "Accelerating PyTorch with CUDA Graphs",
2021; the whole-network capture of torch.cuda.graphs' documentation).

The rules a captured step keeps (each enforced by the family's trainer that uses it):

- its inputs live in static tensors that the host refills before each replay (the batch's
  indices, the noise, the penalty's interpolation weights), drawn from the training stream in the
  order the eager step draws them, so the stream stays the eager step's;
- nothing inside it draws random numbers or syncs with the host (no DiffAugment, no compile);
- the optimiser keeps its step count on the device (``Adam(capturable=True)``);
- the first ``warmup`` steps run eagerly on a side stream (real training steps, as the
  documentation asks before a capture), then the next step is captured and replayed, and every
  later one replayed. Capture records kernels without running them.

Where capture fails (an op that cannot be captured on this torch or driver), the step says why in
the log and stays eager: the results are the same kernels' either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import torch

log = logging.getLogger(__name__)
T = TypeVar("T")


class CapturedStep(Generic[T]):
    """``body()`` run eagerly ``warmup`` times on a side stream, then captured and replayed."""

    def __init__(self, body: Callable[[], T], warmup: int = 3):
        self.body, self.warmup_left = body, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: T | None = None
        self.failed: str | None = None  # why capture failed: the step stays eager
        self.side: torch.cuda.Stream | None = None  # the warm-up's stream, made when first needed
        self.replays = 0

    def __call__(self) -> T:
        if self.graph is not None:
            self.graph.replay()
            self.replays += 1
            return self.out  # type: ignore[return-value]
        if self.failed is not None:
            return self.body()
        if self.warmup_left > 0:
            self.warmup_left -= 1
            self.side = self.side or torch.cuda.Stream()
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                out = self.body()
            torch.cuda.current_stream().wait_stream(self.side)
            return out
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                out = self.body()
        except RuntimeError as e:  # nothing ran inside the failed capture: this step runs eagerly
            self.failed = str(e).splitlines()[0]
            log.warning("CUDA graph capture failed (%s): the step stays eager", self.failed)
            torch.cuda.synchronize()
            return self.body()
        self.graph, self.out = graph, out
        log.info("critic step captured as a CUDA graph: one launch a step from here")
        return self()
