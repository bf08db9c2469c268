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
    # the whole config in the schema's key order, top level included (dict.update would keep
    # the user's order of the keys it has): reordering keys in a config reruns no job
    _valid = validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
    config.clear()
    config.update(_valid)
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
# which of each generator's snapshots is sampled (the select_snapshot rules), scored by KID on the
# evaluation's feature extractor, whose weights it then needs
SNAPSHOTS = config["snapshots"]
SNAPSHOT_EVAL = {k: config["evaluation"][k] for k in ("feature_extractor", "batch_size", "tf32")}
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
# the classifier section as planned: the config as given, less the conditions left out above
# (final_results says why). Every rule reads the conditions from here, never from config.
CLS = {
    **config["classifier"],
    "conditions": {
        name: cond
        for name, cond in config["classifier"]["conditions"].items()
        if name not in SKIPPED
    },
}
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
GENERATORS = in_use(CLS["conditions"])
SYN = f"{REP}/synthetic{{sfx}}"


wildcard_constraints:
    repeat=r"\d+",
    sfx="|".join(re.escape(f.suffix) for f in FAMILIES.values()),
    gdir="|".join(re.escape(f.directory) for f in FAMILIES.values() if not f.study),


# each family's settings as it trains, found once: at the length budget.gpu_hours gives it (its
# cost model tallied here, on the meta device, only when a budget is set), else its own
_TRAINING = {}


def training_settings(fam):
    """A generator family's settings as its training job runs them."""
    if fam.name not in _TRAINING:
        if config["budget"]["gpu_hours"] is None:
            _TRAINING[fam.name] = fam.settings(config)
        else:
            from ganaug.cost.budget import budgeted_settings

            _TRAINING[fam.name] = budgeted_settings(fam, config)
    return _TRAINING[fam.name]


def rule_script(name):
    return f"../../scripts/{name}.py"


def cached(purpose_prefix):
    """Cache paths of the weight files needed for one purpose: inputs of the rules that read
    them, so Snakemake runs the local rule fetch_weights first when one is missing."""
    folder = Path(config["weights"]["cache_dir"]) / "hub" / "checkpoints"
    return [str(folder / f.name) for f in weight_files() if f.purpose.startswith(purpose_prefix)]


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


def all_targets():
    return [
        *per_repeat("data/metadata.csv", "data/summary.json"),
        *(t for g in GENERATORS for t in generator_targets(g)),
        *(
            f"{RESULTS}/{arch}/{condition}/metrics.json"
            for arch in CLS["archs"]
            for condition in CLS["conditions"]
        ),
        f"{RESULTS}/ablation.md",
        f"{RESULTS}/final_results.json",
        f"{RESULTS}/report.html",
        *(f"{RESULTS}/notebooks/{name}.ipynb" for name in NOTEBOOKS),
        *([*STATS_TABLES.values(), DESIGN_TABLE] if config["evaluation"]["references"] else []),
    ]


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
    return [
        f"{rep(r)}/{a}/{c}/seed_{s}/{name}"
        for a in ([arch] if arch else CLS["archs"])
        for c in ([condition] if condition else CLS["conditions"])
        for r in REPEATS
        for s in CLS["seeds"]
    ]


def benchmark_files():
    """The time and memory record of every job the report summarises (not the downloads, which
    may have no output, nor the notebooks and the report themselves): each rule's own benchmark:
    directive (rules.<rule>.benchmark) filled in for the jobs this config plans."""

    def bench(name, **wildcards):
        return expand(getattr(rules, name).benchmark, **wildcards)

    singles = [
        "ingest",
        "preprocess",
        "perceptual_hashes",
        "attribution",
        "ablation",
        "final_results",
    ]
    if config["evaluation"]["references"]:
        singles += ["significance", "plan_cost", "design"]
    if DATA["phantom"] is not None:
        singles.append("make_phantom")
    if EXTRA is not None:
        singles.append("extra_minority")
    files = [f for name in singles for f in bench(name)]
    curation_rules = [
        "curate_blur",
        "curate_ssim",
        "curate_lpips",
        "review_key",
        "ingest_reviews",
        "select_clusters",
    ]
    study_rules = ["split", "train_gan", "sample_gan", *curation_rules, "gan_metrics"]
    # a family other than the study's has training, sampling and metrics rules of its own ({gdir});
    # the curation rules serve every generator ({sfx})
    other_rules = ["train_generator", "sample_generator", *curation_rules, "generator_metrics"]
    conds = CLS["conditions"].values()
    for g in GENERATORS:
        sources = {c["synthetic"] for c in conds if of_condition(c) == g}
        controls = ["select_alternatives"] if sources & {"curated_random", "curated_best"} else []
        for name in (study_rules if g.study else other_rules) + controls:
            files += bench(name, repeat=REPEATS, sfx=g.suffix, gdir=g.directory)
    files += bench("decode_split", repeat=REPEATS, split=["train", "val", "test"])
    # one review page per repeat, over every generator
    files += bench("review_sheet", repeat=REPEATS)
    for ext, spec in config["evaluation"]["external"].items():
        external_rules = ["ingest_external", "preprocess_external", "external_set"]
        external_rules += ["make_external_phantom"] if spec["phantom"] is not None else []
        files += [f for name in external_rules for f in bench(name, ext=ext)]
    files += bench(
        "fit_classifier",
        arch=CLS["archs"],
        condition=list(CLS["conditions"]),
        repeat=REPEATS,
        seed=CLS["seeds"],
    )
    return files + bench(
        "aggregate_replicates", arch=CLS["archs"], condition=list(CLS["conditions"])
    )


# ---------------------------------------------------------------- external test sets (external.smk)

EXTERNAL = config["evaluation"]["external"]
EXT_SOURCES = {name: resolve_external(name, spec) for name, spec in EXTERNAL.items()}
EXT = f"{RESULTS}/external/{{ext}}"
EXT_PHANTOMS = [name for name, spec in EXTERNAL.items() if spec["phantom"] is not None]
