"""ganaug.cost.model: the roofline a kernel, the race with the host, the calibration to an
anchor, and the projection's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from ganaug.cost import hardware as hw
from ganaug.cost.model import Rates, Stage, Work, calibrate, gpu_seconds, host_seconds, project, step_seconds
from ganaug.cost.tally import Tally

R = Rates(hw.H100, "expected")


def test_each_kernel_takes_its_compute_its_bytes_or_the_shortest_kernel_time():
    e = 0.5
    peak, bw = hw.H100.peak("tf32") * e, R.bandwidth
    t = Tally(5, np.array([peak * 1e-3, 0.0, 0.0]), np.array([0.0, bw * 2e-3, 8.0]))
    assert gpu_seconds(t, "tf32", e, R) == pytest.approx(1e-3 + 2e-3 + R.min_kernel_s)
    # bf16 halves the activations' bytes
    assert gpu_seconds(t, "bf16", e, R) == pytest.approx(
        peak * 1e-3 / (hw.H100.peak("bf16") * e) + 1e-3 + R.min_kernel_s
    )
    # the host: 3 kernels dispatched in full, 2 other ops (views) at their own cost
    assert host_seconds(t, R) == pytest.approx(3 * R.dispatch_s + 2 * R.view_s)


def test_a_step_is_the_gpus_time_or_the_hosts_whichever_is_longer():
    many_small = Tally(10_000, np.zeros(10_000), np.full(10_000, 64.0))
    assert (
        step_seconds(many_small, "tf32", 0.5, R)
        == host_seconds(many_small, R)
        > gpu_seconds(many_small, "tf32", 0.5, R)
    )
    one_big = Tally(1, np.array([1e15]), np.array([1e9]))
    assert step_seconds(one_big, "tf32", 0.5, R) == gpu_seconds(one_big, "tf32", 0.5, R)
    assert Rates(hw.H100, "expected", dispatch_us=50.0).dispatch_s == pytest.approx(50e-6)


def test_calibration_reproduces_the_anchor_on_the_h100():
    """At the calibrated efficiency the anchor's own step runs at the published A100 rate times
    the H100/A100 factor, in every case."""
    step = Tally(300, np.full(300, 2e10), np.full(300, 3e7))
    for case in hw.CASES:
        r = Rates(hw.H100, case)
        e = calibrate(step, 1000.0, 256, "tf32", r)
        assert 0 < e < 1
        assert 256 / gpu_seconds(step, "tf32", e, r) == pytest.approx(
            1000.0 * hw.H100_OVER_A100.at(case), rel=1e-6
        )


def test_the_projection_adds_jobs_shares_a_gpu_and_waits_for_the_chain():
    def stage(name, jobs, seconds, chain=False, branch=""):
        s = Stage(name, name, jobs, [Work(Tally(0, np.zeros(0), np.zeros(0)), 0, "tf32")], host_s=seconds)
        s.on_chain, s.branch = chain, branch
        return s

    st = [
        stage("a", 10, 360.0),
        stage("gan", 2, 1800.0, True, "wgan_gp"),
        stage("ddpm", 2, 3600.0, True, "ddpm"),
    ]
    one = project(st, R, 1, 1)
    assert (
        one["wall_hours"] == one["serial_job_hours"] == pytest.approx((3600 + 3600 + 7200) / 3600, abs=0.01)
    )
    shared = project(st, R, 1, 4)  # host work spreads over 4 jobs; the chain is the slowest branch
    assert shared["wall_hours"] == pytest.approx(4.0 / 4, abs=0.01) and shared["critical_chain_hours"] == 1.0
    assert project(st, R, 8, 1)["wall_hours"] == pytest.approx(1.0, abs=0.01)


def test_every_anchor_names_its_source_and_the_spans_are_ordered():
    for a in hw.ANCHORS.values():
        assert a.source and a.batch == 256 and a.size == 224 and set(a.images_per_s) == {"tf32", "bf16"}
    # optimistic: what makes the study cheaper
    assert hw.H100_OVER_A100.optimistic > hw.H100_OVER_A100.pessimistic
    for span in (hw.DISPATCH_US, hw.VIEW_US, hw.MIN_KERNEL_US):
        assert span.optimistic < span.expected < span.pessimistic
    assert hw.BANDWIDTH_EFFICIENCY.optimistic > hw.BANDWIDTH_EFFICIENCY.pessimistic


def test_a_measured_step_replaces_the_models_time_and_keeps_its_split_between_gpu_and_host():
    """gpu_check's measured seconds a step set the wall time; the GPU and host parts keep the
    model's proportions, so jobs sharing a GPU still overlap what the host does."""
    step = Tally(1000, np.full(400, 1e9), np.full(400, 1e6))
    w = Work(step, 10, "tf32")
    gpu, host = w.gpu(R), w.host(R)
    w.measured_s = 0.5
    assert w.wall(R) == pytest.approx(5.0)
    assert w.gpu(R) / w.host(R) == pytest.approx(gpu / host)
    assert max(w.gpu(R), w.host(R)) == pytest.approx(5.0)
