import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# the package lives beside the rule scripts; Snakemake adds that folder to sys.path for
# script jobs, and the Snakefile itself needs it here to validate the config
sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))
from ganaug.config import ConfigError, validate_config  # noqa: E402
from ganaug.data.sources import missing_data_message, resolve  # noqa: E402
from ganaug.settings import (  # noqa: E402
    GanConfig,
    curation_params,
    data_params,
    evaluation_params,
    fit_params,
)

try:
    config.update(validate_config(config))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

DATA = config["data"]
# where the raw files are read from: the user's (read only), the phantom's or a download's
# folder; see ganaug.data.sources for why the user's files are never a rule output
SOURCE = resolve(DATA)
GAN = GanConfig.from_section(config["gan"], DATA["image_size"], config["seed"])
RESULTS = "results"
ENVS = "../../envs"


def rule_script(name):
    return f"../../scripts/{name}.py"


def raw_data(*roles):
    """An input function for the raw files of ``roles``: generated (phantom), downloaded, or the
    user's own (only ever read). Missing files are reported only when a data rule is needed."""

    def inputs(wildcards):
        if SOURCE.origin == "user" and SOURCE.missing:
            raise WorkflowError(missing_data_message(SOURCE))
        return {k: v for k, v in SOURCE.paths().items() if k in roles}

    return inputs


def download_status():
    """Why the ISIC 2019 download has nothing to fetch (logged when it is run anyway)."""
    if SOURCE.origin == "user" and SOURCE.missing:
        return f"data.download is false; {missing_data_message(SOURCE)}"
    return f"the data are read from {SOURCE.images} ({SOURCE.origin} files)"


def review_files(wildcards):
    """The reviewers' CSV exports (review.mode: files), as they are now. An empty list still
    plans; the rule then stops with what to do. Adding files later reruns the rule."""
    review = config["curation"]["review"]
    if review["mode"] != "files":
        return []
    return sorted(str(f) for f in Path(review["dir"]).glob("*.csv"))


def matched_condition(name):
    """(name, settings) of the condition ``name`` oversamples to, or None."""
    to = config["classifier"]["conditions"][name].get("oversample_to")
    return None if to is None else {"name": to, **config["classifier"]["conditions"][to]}


def classifier_inputs(wildcards):
    """metadata.csv, plus the synthetic images (and the curation summary) a condition uses, or
    that the condition it oversamples to uses (whose minority count it matches)."""
    matched = matched_condition(wildcards.condition)
    cond = matched or config["classifier"]["conditions"][wildcards.condition]
    inputs = {
        "metadata": f"{RESULTS}/data/metadata.csv",
        "weights": cached(f"classifier.weights ({wildcards.arch})"),
    }
    if cond["synthetic"] == "raw":
        inputs["raw"] = f"{RESULTS}/synthetic/raw"
        inputs["manifest"] = f"{RESULTS}/synthetic/raw_manifest.csv"
    elif cond["synthetic"] == "curated":
        inputs["curated"] = f"{RESULTS}/synthetic/curated"
        inputs["curation_summary"] = f"{RESULTS}/synthetic/curation/summary.json"
    return inputs


def weight_files():
    """The pretrained files this config reads (empty for the demo and the tests)."""
    from ganaug.pretrained import required_files

    return required_files(config)


def cached(purpose_prefix):
    """Cache paths of the weight files needed for one purpose: inputs of the rules that read
    them, so Snakemake runs the local rule fetch_weights first when one is missing."""
    folder = Path(config["weights"]["cache_dir"]) / "hub" / "checkpoints"
    return [str(folder / f.name) for f in weight_files() if f.purpose.startswith(purpose_prefix)]


def cache_dir_of(wildcards, input):
    """weights.cache_dir, derived from the weight files a job reads (<cache>/hub/checkpoints/f)."""
    if input.weights:
        return str(Path(input.weights[0]).parents[2])
    return config["weights"]["cache_dir"]


def all_targets():
    return [
        f"{RESULTS}/data/metadata.csv",
        f"{RESULTS}/data/summary.json",
        f"{RESULTS}/gan/training_curves.png",
        f"{RESULTS}/gan/samples_grid.png",
        f"{RESULTS}/synthetic/raw",
        f"{RESULTS}/review/index.html",
        f"{RESULTS}/synthetic/curated",
        f"{RESULTS}/synthetic/curation/tsne.png",
        *(
            f"{RESULTS}/{arch}/{condition}/metrics.json"
            for arch in config["classifier"]["archs"]
            for condition in config["classifier"]["conditions"]
        ),
        f"{RESULTS}/ablation.md",
        f"{RESULTS}/gan/metrics.json",
        f"{RESULTS}/final_results.json",
        f"{RESULTS}/report.html",
        *(f"{RESULTS}/notebooks/{name}.ipynb" for name in NOTEBOOKS),
        *(STATS_TABLES.values() if config["evaluation"]["references"] else []),
    ]


def significance_tables(wildcards):
    """The comparison tables, where evaluation.references names a condition to compare with."""
    return STATS_TABLES if config["evaluation"]["references"] else {}


NOTEBOOKS = [
    "01_data_exploration",
    "02_gan_training",
    "03_classifier_training",
    "04_results_analysis",
]
NB_DIR = str(Path(workflow.basedir).parent / "notebooks")


def fit_files(name):
    """One file of every fit, in the config's order (arch, condition, seed)."""
    return [
        f"{RESULTS}/{arch}/{condition}/seed_{seed}/{name}"
        for arch in config["classifier"]["archs"]
        for condition in config["classifier"]["conditions"]
        for seed in config["classifier"]["seeds"]
    ]


def benchmark_files():
    """The time and memory record of every rule the report summarises (not the downloads, which
    may have no output, nor the notebooks and the report themselves)."""
    bench = f"{RESULTS}/benchmarks"
    names = ["ingest", "preprocess", "split", "train_gan", "sample_gan", "curate_blur", "curate_ssim",
             "curate_lpips", "ingest_reviews", "review_sheet", "select_clusters", "gan_metrics",
             "ablation", "final_results"]  # fmt: skip
    if config["evaluation"]["references"]:
        names.append("significance")
    if DATA["phantom"] is not None:
        names.append("make_phantom")
    cls = config["classifier"]
    fits = [
        f"fit_classifier/{a}_{c}_seed{s}"
        for a in cls["archs"]
        for c in cls["conditions"]
        for s in cls["seeds"]
    ]
    aggs = [f"aggregate_seeds/{a}_{c}" for a in cls["archs"] for c in cls["conditions"]]
    return [f"{bench}/{n}.tsv" for n in names + fits + aggs]


def report_inputs(wildcards):
    """Every file the report and the analysis notebooks read: passed to them by name as the
    papermill parameter `paths` (ganaug.notebooks.notebook_paths), so they read nothing else."""
    return {
        **significance_tables(wildcards),
        "final": rules.final_results.output[0],
        "metadata": rules.split.output.metadata,
        "data_summary": rules.split.output.summary,
        "gan_history": rules.train_gan.output.history,
        "gan_metrics": rules.gan_metrics.output.metrics,
        "training_curves": rules.train_gan.output.curves,
        "samples_grid": rules.train_gan.output.grid,
        "progress_grids": rules.train_gan.output.progress,
        "real_vs_synthetic": rules.gan_metrics.output.figure,
        "tsne": rules.select_clusters.output.tsne,
        "curation_scores": rules.select_clusters.output.scores,
        "fit_metrics": fit_files("metrics.json"),
        "fit_history": fit_files("history.csv"),
        "fit_predictions": fit_files("predictions.csv"),
        "benchmarks": benchmark_files(),
    }
