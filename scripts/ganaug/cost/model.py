"""From a tally to seconds: a roofline for each kernel, calibrated to published throughputs, raced
against the host that dispatches the kernels.

On the GPU each kernel takes the longest of its arithmetic at the precision's peak times an
achieved efficiency, its bytes at the memory bandwidth times its efficiency, and the shortest time
any kernel takes. The host meanwhile dispatches every op (Python, the dispatcher, autograd, the
launch); the GPU runs ahead of it only as far as the host keeps up, so a step takes

    max(sum over kernels of max(FLOPs / (peak x E), bytes / (bandwidth x E_bw), t_min),
        kernels x dispatch cost + other ops (views, allocations) x their cost)

E is not assumed: :func:`calibrate` solves for the E at which the model reproduces an anchor (a
published throughput of an architecture, ``hardware.ANCHORS``, on an A100, times the published
H100/A100 factor), at the anchor's own batch and resolution. A classifier with an anchor runs at
its own E; every other network (the generators, the feature networks, a timm architecture) at
ResNet-50's, the anchor whose convolutions are most like theirs. At the study's batch and
resolution the same E then gives the time: what changes is the tally (more pixels, fewer images a
step, so more dispatch per image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ganaug.cost import hardware as hw
from ganaug.cost.steps import classifier_steps
from ganaug.cost.tally import Tally


@dataclass(frozen=True)
class Rates:
    """One case's hardware and host figures (hardware.CASES)."""

    gpu: hw.Gpu
    case: str
    dispatch_us: float | None = None  # a measured dispatch cost overrides the span's

    @property
    def dispatch_s(self) -> float:
        us = self.dispatch_us if self.dispatch_us is not None else hw.DISPATCH_US.at(self.case)
        return us * 1e-6

    @property
    def view_s(self) -> float:
        return hw.VIEW_US.at(self.case) * 1e-6

    @property
    def min_kernel_s(self) -> float:
        return hw.MIN_KERNEL_US.at(self.case) * 1e-6

    @property
    def bandwidth(self) -> float:
        return self.gpu.hbm_tb_s * 1e12 * hw.BANDWIDTH_EFFICIENCY.at(self.case)


def gpu_seconds(t: Tally, precision: str, efficiency: float, r: Rates) -> float:
    """The kernels' time on the GPU (a roofline each, plus the shortest a kernel can be)."""
    if t.kernels == 0:
        return 0.0
    compute = t.flops / (r.gpu.peak(precision) * efficiency)
    scale = hw.BF16_BYTES if precision == "bf16" else 1.0
    memory = t.bytes * scale / r.bandwidth
    return float(np.maximum(np.maximum(compute, memory), r.min_kernel_s).sum())


def host_seconds(t: Tally, r: Rates) -> float:
    """The host's dispatching: a kernel's full dispatch and launch, a view's dispatch alone."""
    return t.host_kernels * r.dispatch_s + (t.ops - t.host_kernels) * r.view_s


def step_seconds(t: Tally, precision: str, efficiency: float, r: Rates) -> float:
    """A step's wall time: the GPU's kernels or the host's dispatching, whichever is longer."""
    return max(gpu_seconds(t, precision, efficiency, r), host_seconds(t, r))


def calibrate(anchor_step: Tally, images_per_s: float, batch: int, precision: str, r: Rates) -> float:
    """The compute efficiency E at which the anchor's training step (tallied at the anchor's batch
    and resolution) runs on ``r.gpu`` at the published rate times the H100/A100 factor. Capped at
    1: where even the peak is too slow the model is pessimistic for that network, not wrong-signed."""
    target = batch / (images_per_s * hw.H100_OVER_A100.at(r.case))
    lo, hi = 1e-4, 1.0
    if gpu_seconds(anchor_step, precision, hi, r) >= target:
        return hi
    for _ in range(60):  # the kernels' time falls as E rises: bisect
        mid = (lo * hi) ** 0.5
        if gpu_seconds(anchor_step, precision, mid, r) > target:
            lo = mid
        else:
            hi = mid
    return hi


@cache
def anchor_tally(arch: str) -> Tally:
    a = hw.ANCHORS[arch]
    return classifier_steps(arch, a.size, a.batch, a.batch)["train_step"]


@cache
def efficiency(arch: str, precision: str, r: Rates) -> float:
    """The calibrated E of ``arch`` (ResNet-50's where it has no anchor of its own)."""
    arch = arch if arch in hw.ANCHORS else "resnet50"
    a = hw.ANCHORS[arch]
    prec = precision if precision in a.images_per_s else "tf32"
    return calibrate(anchor_tally(arch), a.images_per_s[prec], a.batch, prec, r)


@dataclass
class Work:
    """``count`` runs of one step: its tally, precision, and whose calibrated E it runs at."""

    step: Tally
    count: float
    precision: str
    like: str = "resnet50"  # the anchor whose E applies
    # a GPU's measured seconds a step: they replace the model's wall time, split between the GPU
    # and the host as the model splits it (what sharing a GPU between jobs can overlap)
    measured_s: float | None = None

    def _modelled(self, r: Rates) -> tuple[float, float]:
        """The model's (GPU, host) seconds of one step."""
        e = efficiency(self.like, self.precision, r)
        return gpu_seconds(self.step, self.precision, e, r), host_seconds(self.step, r)

    def _times(self, part: float, r: Rates) -> float:
        """``count`` steps of ``part`` seconds, scaled to the measured step where there is one."""
        if self.measured_s is None:
            return self.count * part
        wall = max(self._modelled(r))
        return self.count * self.measured_s * (part / wall if wall else 1.0)

    def gpu(self, r: Rates) -> float:
        return self._times(self._modelled(r)[0], r)

    def host(self, r: Rates) -> float:
        return self._times(self._modelled(r)[1], r)

    def wall(self, r: Rates) -> float:
        return self._times(max(self._modelled(r)), r)


@dataclass
class Stage:
    """One kind of job: how many, each doing ``work`` plus ``host_s`` on the host alone."""

    name: str  # e.g. "fit resnet50 / gan_curated"
    kind: str  # the row it is reported in: "fit resnet50", "train_gan", ...
    jobs: int
    work: list[Work] = field(default_factory=list)
    host_s: float = 0.0
    on_chain: bool = False  # one of them is on a repeat's critical path
    branch: str = ""  # the generator whose branch of the chain it is on ("": every branch's)

    def job_seconds(self, r: Rates) -> float:
        return sum(w.wall(r) for w in self.work) + self.host_s

    def gpu_seconds(self, r: Rates) -> float:
        return sum(w.gpu(r) for w in self.work)

    def host_seconds(self, r: Rates) -> float:
        return sum(w.host(r) for w in self.work)

    @property
    def flops(self) -> float:
        return sum(w.count * w.step.total_flops for w in self.work)

    @property
    def ops(self) -> float:
        return sum(w.count * w.step.ops for w in self.work)


def project(stages: list[Stage], r: Rates, n_gpus: int, jobs_per_device: int) -> dict[str, float]:
    """The study's wall hours. One GPU with J jobs at a time: its kernels are shared, the hosts'
    dispatching is not, so max(all GPU time, all job time / J, the longest chain). N GPUs, one
    job each: max(all job time / N, the chain). The chain: a repeat's shared stages, then its
    slowest generator's branch (a repeat's generators train side by side)."""
    gpu = sum(s.jobs * s.gpu_seconds(r) for s in stages)
    job = sum(s.jobs * s.job_seconds(r) for s in stages)
    branches: dict[str, float] = {}
    for s in stages:
        if s.on_chain and s.branch:
            branches[s.branch] = branches.get(s.branch, 0.0) + s.job_seconds(r)
    chain = sum(s.job_seconds(r) for s in stages if s.on_chain and not s.branch)
    chain += max(branches.values(), default=0.0)
    wall = max(gpu, job / jobs_per_device, chain) if n_gpus == 1 else max(job / n_gpus, chain)
    return {
        "gpus": n_gpus,
        "jobs_per_device": jobs_per_device if n_gpus == 1 else 1,
        "gpu_hours": round(gpu / 3600, 2),
        "serial_job_hours": round(job / 3600, 2),
        "critical_chain_hours": round(chain / 3600, 2),
        "wall_hours": round(wall / 3600, 2),
    }
