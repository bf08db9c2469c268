"""Every script in benchmarks/ runs: each is started at its smallest size (or, where its smallest
run is a whole workflow, asked for its arguments, which imports everything it uses), so a
refactor cannot silently break one again (bench_scale.py and bench_preprocess.py once failed at
import for weeks). Their figures are not checked here: no timing belongs in a test."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import REPO, run

pytestmark = pytest.mark.workflow

SMALLEST = {
    "bench_calibration.py": "--worlds 1 --alt-worlds 1 --workers 1 --bootstrap-worlds 1 --spread-fits 3 "
    "--out {tmp}/c",
    # the designs whose paths differ (today's, sensitivity at a specificity, common random numbers,
    # rounds of folds), costed on the demo config: 20 s, against 46 s for all 14 on the study's
    "bench_design.py": "--worlds 2 --workers 1 --only 0,8,9,10 --out {tmp}/d --config "
    + str(REPO / "config" / "demo.yaml"),
    "bench_classifier.py": "--sizes 32 --images 8 --epochs 1 --batch 4 --archs resnet50 --json {tmp}/o.json",
    "bench_curation.py": "--size 32 --real 6 --syn-ssim 4 --syn-lpips 2 --full-ssim 8 --full-lpips 4 "
    "--ref-pairs-ssim 4 --ref-pairs-lpips 2 --real-ssim 4 --json {tmp}/o.json",
    "bench_frechet.py": "--sizes 20,30 --dim 64 --repeats 1 --out {tmp}/o.json",
    "bench_gan_metrics.py": "--smoke --json {tmp}/o.json",
    "bench_gan_step.py": "--configs demo --precisions fp32 --compile off --iterations 1 --warmup 1 "
    "--rounds 1 --no-whole-loop --json {tmp}/o.json",
    "bench_gpu_cuts.py": "--gan-size 32 --ddpm demo --fit-size 32 --fit-steps 1 --rounds 1 "
    "--json {tmp}/o.json",
    "bench_hot_loop.py": "--images 20 --size 32 --rounds 1 --json {tmp}/o.json",
    "bench_preprocess.py": "--n 4 --repeats 1 --json {tmp}/o.json",
    "bench_tuner.py": "--sizes 40 --rounds 1 --json {tmp}/o.json",
    # its smallest run is config/scale.yaml's whole rehearsal (about 25 minutes): arguments only
    "bench_scale.py": "--help",
    # run in full by tests/unit/test_study_cost.py and tests/workflow/test_gpu_check.py
    "study_cost.py": "--help",
    "gpu_check.py": "--help",
    "gpu_check_steps.py": None,  # the steps gpu_check.py imports (tested through it)
    "gpu_check_summary.py": None,  # tested with gpu_check.sh
}
SHELL = {"gpu_check.sh", "gpu_wheels.sh"}  # tests/workflow/test_gpu_check.py runs both
HELPERS = {"gpu_machine/make_env.py"}  # the GPU machine's environment, built by test_gpu_check.py


def test_every_script_in_benchmarks_is_run_by_a_test():
    scripts = {p.relative_to(REPO / "benchmarks").as_posix() for p in (REPO / "benchmarks").rglob("*.py")}
    shells = {p.name for p in (REPO / "benchmarks").glob("*.sh")}
    assert scripts == set(SMALLEST) | HELPERS and shells == SHELL


@pytest.mark.parametrize("script", sorted(k for k, v in SMALLEST.items() if v is not None))
def test_the_benchmark_runs_at_its_smallest_size(script, tmp_path):
    args = SMALLEST[script].format(tmp=tmp_path).split()
    res = run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]


def test_the_rehearsal_counts_every_rule_in_a_stage_and_stops_on_one_in_none(tmp_path):
    """bench_scale.py's stage totals hold every rule that ran: a rule in no stage stops it (the
    same-lesion rules once went uncounted in the data stage's time)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "benchmarks" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    bench_dir = tmp_path / "results" / "benchmarks"
    bench_dir.mkdir(parents=True)
    for i, rule in enumerate(("ingest", "same_lesion", "curate_lpips")):
        (bench_dir / f"{rule}.tsv").write_text(
            header + f"{10.0 * (i + 1)}\t0:00:10\t{100.0 * (i + 1)}\t0\t0\t0\t0\t0\t0\t1\n"
        )
    target = tmp_path / bench.TARGET
    target.parent.mkdir(parents=True)
    target.write_text('{"funnel": []}')
    out = bench.summarise(tmp_path)
    assert out["stages"]["data"]["seconds"] == 30.0 and out["stages"]["curation"]["seconds"] == 30.0
    (bench_dir / "mystery_rule.tsv").write_text(header + "5.0\t0:00:05\t50\t0\t0\t0\t0\t0\t0\t1\n")
    with pytest.raises(SystemExit, match="mystery_rule"):
        bench.summarise(tmp_path)
