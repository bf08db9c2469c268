import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# the package lives beside the rule scripts; Snakemake adds that folder to sys.path for
# script jobs, and the Snakefile itself needs it here to validate the config
sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))
from ganaug.config import ConfigError, validate_config  # noqa: E402
from ganaug.data.sources import (  # noqa: E402
    ARCHIVE_DEFAULT_SEARCH,
    ARCHIVE_EXTRA_DIR,
    PHANTOM_EXTERNAL_DIR,
    extra_minority_source,
    missing_data_message,
    resolve,
    resolve_external,
)
from ganaug.generators import (  # noqa: E402
    FAMILIES,
    by_directory,
    in_use,
    of_condition,
    study,
)
from ganaug.settings import (  # noqa: E402
    curation_params,
    data_params,
    evaluation_params,
    fit_params,
    matched_to,
    repeat_split,
)

try:
    config.update(validate_config(config))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

DATA = config["data"]
# where the raw files are read from: the user's (read only), the phantom's or a download's
# folder; see ganaug.data.sources for why the user's files are never a rule output
SOURCE = resolve(DATA)
# the study's generator: its rules keep their historical names and folders (gan/, synthetic/)
STUDY = study()
GAN = STUDY.settings(config)
RESULTS = "results"
ENVS = "../../envs"
# extra real minority images of lesions in no split (the real_extra control), or None; without
# them a condition with extra_real_to is not planned, and final_results says why
EXTRA = extra_minority_source(DATA)
SKIPPED = {
    name: "no extra real minority images: set data.extra_minority to a folder of them "
    "(e.g. DF images from an archive outside the training data), or data.archive_extra to fetch "
    "them from the ISIC Archive with isic-cli"
    for name, cond in config["classifier"]["conditions"].items()
    if cond.get("extra_real_to") and EXTRA is None
}
for _name in SKIPPED:
    del config["classifier"]["conditions"][_name]
# The repeated splits (data.split.repeats): each has its own folder with its split, its GAN, its
# synthetic sets, its review and its fits; nothing in one repeat's folder reads another's.
REPEATS = list(range(DATA["split"]["repeats"]))
REP = f"{RESULTS}/repeat_{{repeat}}"


def rep(r):
    """The folder of repeat ``r``."""
    return f"{RESULTS}/repeat_{r}"


# The generators (ganaug.generators): the study's, whose outputs keep their paths (gan/,
# synthetic/, review/), and each other family a condition names (generator:), whose folders
# name it (<family>/, synthetic_<family>/). {sfx} is what a family adds to the curation's
# folder and log names ("" for the study's), {gdir} the folder of a family other than the study's.
GENERATORS = in_use(config["classifier"]["conditions"])
SYN = f"{REP}/synthetic{{sfx}}"


def generator_of(sfx):
    """The generator whose curation folders {sfx} names ("" for the study's)."""
    return next(f.name for f in FAMILIES.values() if f.suffix == sfx)


wildcard_constraints:
    repeat=r"\d+",
    sfx="|".join(re.escape(f.suffix) for f in FAMILIES.values()),
    gdir="|".join(re.escape(f.directory) for f in FAMILIES.values() if not f.study),


def arch_pattern(archs):
    """The {arch} wildcard: the configured architectures and every other registered one, so a
    target such as results/resnet50/gan_curated/metrics.json is built even when classifier.archs
    leaves resnet50 out (rule all still builds only the configured ones)."""
    from ganaug.models.registry import TIMM_PREFIX, TORCHVISION_ARCHS

    names = sorted(set(archs) | set(TORCHVISION_ARCHS), key=len, reverse=True)
    return "|".join([*map(re.escape, names), re.escape(TIMM_PREFIX) + r"[a-z0-9_.]+"])


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


def review_dir(repeat):
    """Where the reviewers' exports of one repeat's review page go (<review.dir>/repeat_<r>)."""
    return f"{config['curation']['review']['dir']}/repeat_{repeat}"


def review_files(wildcards):
    """The reviewers' CSV exports of this page (review.mode: files), as they are now. An empty
    list still plans; the rule then stops with what to do. Adding files later reruns the rule."""
    if config["curation"]["review"]["mode"] != "files":
        return []
    return sorted(str(f) for f in Path(review_dir(wildcards.repeat)).glob("*.csv"))


def review_candidates(*kinds):
    """An input function: each generator's curation files of one repeat that a review rule reads
    (previous_<g>: its LPIPS survivors, raw_<g>, manifest_<g>, blur_<g>, ssim_<g>)."""
    files = {
        "previous": "curation/lpips.csv",
        "raw": "raw",
        "manifest": "raw_manifest.csv",
        "blur": "curation/blur.csv",
        "ssim": "curation/ssim.csv",
    }

    def inputs(wildcards):
        r = rep(wildcards.repeat)
        return {f"{k}_{g.name}": f"{r}/{g.synthetic}/{files[k]}" for g in GENERATORS for k in kinds}

    return inputs


def matched_condition(name):
    """(name, settings) of the condition ``name`` is matched to (oversample_to, extra_real_to
    or synthetic_count_to), or None."""
    to = matched_to(config["classifier"]["conditions"][name])
    return None if to is None else {"name": to, **config["classifier"]["conditions"][to]}


def synthetic_inputs(cond, r):
    """The synthetic folder (and its provenance file) of a condition's source in repeat folder
    ``r``, from its generator's folder (synthetic/ for the study's)."""
    source, syn = cond["synthetic"], f"{r}/{of_condition(cond).synthetic}"
    if source == "raw":
        return {"raw": f"{syn}/raw", "manifest": f"{syn}/raw_manifest.csv"}
    if source.startswith("curated"):
        # curated (the cluster selection), curated_random or curated_best: one folder each
        return {"curated": f"{syn}/{source}", "curation_summary": f"{syn}/curation/summary.json"}
    return {}


def classifier_inputs(wildcards):
    """metadata.csv, plus the synthetic images (and their provenance) a condition uses, and those
    of the condition it is matched to (whose counts it matches)."""
    matched = matched_condition(wildcards.condition)
    own = config["classifier"]["conditions"][wildcards.condition]
    r = rep(wildcards.repeat)
    inputs = {
        "metadata": f"{r}/data/metadata.csv",
        **{f"cache_{s}": f"{r}/data/cache/{s}.npy" for s in ("train", "val", "test")},
        "weights": cached(f"classifier.weights ({wildcards.arch})"),
        **(synthetic_inputs(matched, r) if matched else {}),
        **synthetic_inputs(own, r),
    }
    for name in config["evaluation"]["external"]:
        inputs[f"external_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
    if config["classifier"]["conditions"][wildcards.condition].get("extra_real_to"):
        inputs["extra"] = f"{RESULTS}/data/extra/metadata.csv"
    return inputs


def archive_extra_output():
    """download_archive_extra's output: the pool's folder while it is missing, else nothing."""
    if DATA["archive_extra"] is None or Path(ARCHIVE_EXTRA_DIR).exists():
        return {}
    return {"images": protected(directory(ARCHIVE_EXTRA_DIR))}


def phantom_extra_output():
    """make_phantom's folder of extra DF images, when the phantom makes any."""
    ph = DATA["phantom"]
    return {"extra": directory(EXTRA)} if ph is not None and EXTRA is not None else {}


def external_fit_outputs():
    """A fit's predictions of each external test set (named outputs external_<name>)."""
    fit = f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}"
    return {
        f"external_{name}": f"{fit}/external/{name}/predictions.csv"
        for name in config["evaluation"]["external"]
    }


def external_significance_inputs():
    """Per external set: its metadata.csv and every fit's predictions of it."""
    out = {}
    for name in config["evaluation"]["external"]:
        out[f"ext_meta_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
        out[f"ext_pred_{name}"] = fit_files(f"external/{name}/predictions.csv")
    return out


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


def per_repeat(*paths):
    """Each path (relative to a repeat's folder) for every repeat."""
    return [f"{rep(r)}/{p}" for r in REPEATS for p in paths]


def generator_targets(g):
    """What the target all builds of one generator in each repeat (its curves and samples, its raw and
    curated sets, its review page and its metrics)."""
    return per_repeat(
        f"{g.directory}/training_curves.png",
        f"{g.directory}/samples_grid.png",
        f"{g.synthetic}/raw",
        "review/index.html",
        f"{g.synthetic}/curated",
        f"{g.synthetic}/curation/tsne.png",
        f"{g.directory}/metrics.json",
    )


def generator_summary_inputs(wildcards):
    """What final_results reads of each generator in use, per repeat, for its "Which generator?"
    section: its metrics.json, its review's Turing test and its training job's benchmark file."""
    out = {}
    for g in GENERATORS:
        train = rules.train_gan if g.study else rules.train_generator
        out[f"generator_metrics_{g.name}"] = per_repeat(f"{g.directory}/metrics.json")
        out[f"generator_turing_{g.name}"] = per_repeat(f"{g.synthetic}/curation/review_turing.json")
        out[f"generator_train_{g.name}"] = expand(train.benchmark, repeat=REPEATS, gdir=g.directory)
    return out


def generator_summary_params():
    """Each generator in use (name, label, the conditions that use it, its blur threshold) and
    each synthetic condition's generator, for final_results."""
    conds = config["classifier"]["conditions"]
    generator_of = {n: of_condition(c).name for n, c in conds.items() if c["synthetic"] != "none"}
    blur = {g.name: curation_params(config["curation"], "blur", g.name) for g in GENERATORS}
    return {
        "generators": [
            {
                "name": g.name,
                "label": g.label,
                "conditions": [n for n, x in generator_of.items() if x == g.name],
                "blur_threshold": blur[g.name]["blur_threshold"],
            }
            for g in GENERATORS
        ],
        "generator_of": generator_of,
    }


def all_targets():
    return [
        *per_repeat("data/metadata.csv", "data/summary.json"),
        *(t for g in GENERATORS for t in generator_targets(g)),
        *(
            f"{RESULTS}/{arch}/{condition}/metrics.json"
            for arch in config["classifier"]["archs"]
            for condition in config["classifier"]["conditions"]
        ),
        f"{RESULTS}/ablation.md",
        f"{RESULTS}/final_results.json",
        f"{RESULTS}/report.html",
        *(f"{RESULTS}/notebooks/{name}.ipynb" for name in NOTEBOOKS),
        *([*STATS_TABLES.values(), DESIGN_TABLE] if config["evaluation"]["references"] else []),
    ]


def significance_tables(wildcards):
    """The comparison tables and the design table, where evaluation.references names a
    condition to compare with."""
    if not config["evaluation"]["references"]:
        return {}
    return {**STATS_TABLES, "design": DESIGN_TABLE}


NOTEBOOKS = [
    "01_data_exploration",
    "02_gan_training",
    "03_classifier_training",
    "04_results_analysis",
]
NB_DIR = str(Path(workflow.basedir).parent / "notebooks")


def fit_files(name, arch=None, condition=None):
    """One file of every fit (or of one architecture and condition), in the config's order:
    arch, condition, repeat, seed."""
    cls = config["classifier"]
    return [
        f"{rep(r)}/{a}/{c}/seed_{s}/{name}"
        for a in ([arch] if arch else cls["archs"])
        for c in ([condition] if condition else cls["conditions"])
        for r in REPEATS
        for s in cls["seeds"]
    ]


def benchmark_files():
    """The time and memory record of every rule the report summarises (not the downloads, which
    may have no output, nor the notebooks and the report themselves)."""
    bench = f"{RESULTS}/benchmarks"
    names = [
        "ingest",
        "preprocess",
        "perceptual_hashes",
        "attribution",
        "ablation",
        "final_results",
    ]
    if config["evaluation"]["references"]:
        names += ["significance", "plan_cost", "design"]
    if DATA["phantom"] is not None:
        names.append("make_phantom")
    if EXTRA is not None:
        names.append("extra_minority")
    curation_rules = ["curate_blur", "curate_ssim", "curate_lpips", "select_clusters"]
    per_repeat_rules = ["split", "train_gan", "sample_gan", *curation_rules, "gan_metrics"]
    other_rules = ["train_generator", "sample_generator", *curation_rules, "generator_metrics"]
    conds = config["classifier"]["conditions"].values()
    for g in GENERATORS:
        study = g.study
        sources = {c["synthetic"] for c in conds if of_condition(c) == g}
        controls = ["select_alternatives"] if sources & {"curated_random", "curated_best"} else []
        # rule/repeat_<r>[_<generator>]: the curation rules serve every generator ({sfx}); the
        # training, sampling and metrics of a family other than the study's have rules of their own
        for job in (per_repeat_rules if study else other_rules) + controls:
            names += [f"{job}/repeat_{r}{g.suffix}" for r in REPEATS]
    names += [f"decode_split/repeat_{r}_{s}" for r in REPEATS for s in ("train", "val", "test")]
    # one review page per repeat, over every generator
    names += [f"{job}/repeat_{r}" for job in ("review_sheet", "ingest_reviews") for r in REPEATS]
    for ext, spec in config["evaluation"]["external"].items():
        rules = ["ingest_external", "preprocess_external", "external_set"]
        rules += ["make_external_phantom"] if spec["phantom"] is not None else []
        names += [f"{rule}/{ext}" for rule in rules]
    cls = config["classifier"]
    fits = [
        f"fit_classifier/repeat_{r}/{a}_{c}_seed{s}"
        for a in cls["archs"]
        for c in cls["conditions"]
        for r in REPEATS
        for s in cls["seeds"]
    ]
    aggs = [f"aggregate_replicates/{a}_{c}" for a in cls["archs"] for c in cls["conditions"]]
    return [f"{bench}/{n}.tsv" for n in names + fits + aggs]


def report_inputs(wildcards):
    """Every file the report and the analysis notebooks read: passed to them by name as the
    papermill parameter `paths` (ganaug.notebooks.notebook_paths), so they read nothing else."""
    # one repeat's GAN, curation and data are shown (repeat 0); every fit of every repeat is read
    r0 = {"repeat": 0}
    forest = (
        {"forest": rules.significance.output.forest} if config["evaluation"]["references"] else {}
    )
    return {
        **significance_tables(wildcards),
        **forest,
        "final": rules.final_results.output[0],
        "metadata": expand(rules.split.output.metadata, **r0)[0],
        "data_summary": expand(rules.split.output.summary, **r0)[0],
        "gan_history": expand(rules.train_gan.output.history, **r0)[0],
        "gan_metrics": expand(rules.gan_metrics.output.metrics, **r0)[0],
        "training_curves": expand(rules.train_gan.output.curves, **r0)[0],
        "samples_grid": expand(rules.train_gan.output.grid, **r0)[0],
        "progress_grids": expand(rules.train_gan.output.progress, **r0)[0],
        "real_vs_synthetic": expand(rules.gan_metrics.output.figure, **r0)[0],
        "closest_to_train": expand(rules.gan_metrics.output.closest, **r0)[0],
        "tsne": expand(rules.select_clusters.output.tsne, **r0, sfx="")[0],
        "curation_scores": expand(rules.select_clusters.output.scores, **r0, sfx="")[0],
        # "Which generator?": each generator's closest-to-train pairs (repeat 0), side by side
        **{
            f"closest_to_train_{g.name}": f"{rep(0)}/{g.directory}/closest_to_train.png"
            for g in GENERATORS
        },
        "fit_metrics": fit_files("metrics.json"),
        "fit_history": fit_files("history.csv"),
        "fit_predictions": fit_files("predictions.csv"),
        "benchmarks": benchmark_files(),
    }


# ---------------------------------------------------------------- external test sets (external.smk)

EXTERNAL = config["evaluation"]["external"]
EXT_SOURCES = {name: resolve_external(name, spec) for name, spec in EXTERNAL.items()}
EXT = f"{RESULTS}/external/{{ext}}"
EXT_PHANTOMS = [name for name, spec in EXTERNAL.items() if spec["phantom"] is not None]


def external_archives():
    """What an external set is cleared against: the training archive, and the real_extra
    control's extra real images (training images too) where there are any."""
    extra = [f"{RESULTS}/data/extra/metadata.csv"] if EXTRA is not None else []
    return [f"{RESULTS}/data/preprocessed.csv", *extra]


def external_archive_hashes():
    """The perceptual hashes an external set is screened against: the archive's, and the extra
    pool's where there is one."""
    extra = [f"{RESULTS}/data/extra/hashes.npz"] if EXTRA is not None else []
    return [f"{RESULTS}/data/hashes.npz", *extra]


def attribution_inputs(wildcards):
    """What attribution.csv lists: the archive's images, each external set's kept images, the
    extra pool's."""
    out = {"archive": f"{RESULTS}/data/preprocessed.csv"}
    for name in EXTERNAL:
        out[f"ext_table_{name}"] = f"{RESULTS}/external/{name}/preprocessed.csv"
        out[f"ext_meta_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
    if EXTRA is not None:
        out["extra"] = f"{RESULTS}/data/extra/metadata.csv"
    return out


def external_raw(*roles):
    """An input function for one external set's raw files (only ever read)."""

    def inputs(wildcards):
        src = EXT_SOURCES[wildcards.ext]
        if src.missing:
            raise WorkflowError("external test set not found:\n  - " + "\n  - ".join(src.missing))
        return {k: v for k, v in src.paths().items() if k in roles}

    return inputs
