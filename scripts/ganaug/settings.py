"""The config's sections as typed, frozen dataclasses: the one way config reaches the package.

The Snakefile validates the whole config against the JSON schema (``ganaug.config``); a rule
passes whole sections (or what a dataclass says one job depends on) and its script builds the
dataclass with ``from_dict`` (``ganaug.dataclass_io``), which refuses unknown keys. Every field
has a comment; the defaults equal the schema's (tested), so a dataclass built in a test means
what the workflow means. The generator families' configs (``ganaug.generators``) follow the same idiom.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganaug.dataclass_io import from_dict

# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.70  # share of each class's images for training (GAN and curation read only this)
    val: float = 0.15  # validation: the epoch, the threshold
    test: float = 0.15  # read once, by the final prediction
    seed: int = 42  # the seed of the test folds and (with the repeat) of each validation draw
    repeats: int = 1  # lesion-grouped splits with disjoint test sets, each with its own GAN and fits


@dataclass(frozen=True)
class PhantomShift:
    """Another "camera" for an out-of-distribution phantom set; the defaults change nothing."""

    colour_cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # multipliers of R, G, B
    illumination: float = 0.0  # strength of a linear light gradient across the image (0..1)
    blur: float = 0.0  # Gaussian blur sigma, in px of a 400 px wide image (scaled with the size)
    resolution: float = 1.0  # captured at this fraction of the size, then enlarged (softer detail)
    lesion_scale: float = 1.0  # lesion radius multiplier (the lesion-size distribution)


@dataclass(frozen=True)
class PhantomConfig:
    n_minority_lesions: int = 40  # distinct DF lesions to draw
    n_majority_lesions: int = 200  # distinct NV lesions to draw
    repeat_fraction: float = 0.15  # share of lesions photographed twice, so grouping matters
    mask_fraction: float = 0.5  # share of images that get a segmentation mask
    width: int = 400  # raw image width in px, before preprocessing
    height: int = 300  # raw image height in px
    jpeg_quality: int = 92  # JPEG quality of the written images
    seed: int = 42  # every image derives its own generator from (seed, index)
    # the archive's shape, for the full-scale rehearsal (config/scale.yaml):
    n_minority_images: int | None = None  # DF images in all, spread 1..k per lesion (null: repeat_fraction)
    # (width, height) of the images, in turn (null: width x height for all)
    sizes: tuple[tuple[int, int], ...] | None = None
    render_scale: float = 1.0  # draw at this fraction of the size, then enlarge (fast, for large sets)
    # an external (out-of-distribution) phantom set: its own ids and another camera
    id_prefix: str = "PHANTOM"  # image ids <prefix>_0000000; lesion ids PHL_... (default) or <prefix>_L...
    n_extra_minority: int = 0  # extra DF images, one per new lesion in no split (the real_extra control)
    shift: PhantomShift | None = None  # the camera's differences (null: the demo's own camera)


@dataclass(frozen=True)
class SameLesionConfig:
    """The same lesion under two lesion ids in the archive (ganaug.data.same_lesion): such pairs
    are joined into one lesion group before the split."""

    screen: bool = True  # screen the archive against itself with the perceptual hash
    published: bool = True  # join the shipped published pairs (18 HAM10000 pairs) found in the archive
    lists: list[str] = field(default_factory=list)  # your own CSVs of pairs (image_id_a, image_id_b)


@dataclass(frozen=True)
class DataConfig:
    format: str = "isic2019"  # layout of ground_truth / metadata
    images: str | None = None  # folder of <image_id>.jpg (null: the format's standard place)
    ground_truth: str | None = None  # label CSV of the format (null: the standard place)
    metadata: str | None = None  # ISIC 2019's lesion-id CSV (null: the standard place; others: none)
    masks: str | None = None  # folder of <image_id>_segmentation.png, optional
    minority: str = "dermatofibroma"  # the rare class the GAN learns (canonical name)
    majority: str = "nevus"  # the common class it is told apart from
    image_size: int = 256  # side of the square PNGs, and of the GAN's images
    max_reject_fraction: float = 0.02  # stop when more of the images are lost
    jpeg_draft: bool = True  # decode large JPEGs at reduced size with libjpeg's DCT scaling
    split: SplitConfig = field(default_factory=SplitConfig)  # the lesion-grouped split
    same_lesion: SameLesionConfig = field(default_factory=SameLesionConfig)  # pairs joined before it
    download: bool | None = None  # fetch ISIC 2019 when missing (null: yes for isic2019 only)
    download_url: str = "https://isic-challenge-data.s3.amazonaws.com/2019/"  # ISIC 2019's files
    download_sha256: dict[str, str] = field(default_factory=dict)  # optional SHA-256 per file name
    phantom: PhantomConfig | None = None  # the embedded demo set, generated under resources/phantom/
    extra_minority: str | None = None  # a folder of extra real minority images in no split (real_extra)
    # {search, limit}: the real_extra pool fetched from the ISIC Archive by isic-cli (null: none)
    archive_extra: dict[str, Any] | None = None
    # the inclusion rule (ganaug.data.inclusion), wherever the metadata has image_type /
    # image_manipulation: the kinds of image admitted, what a blank type is taken as (null: left
    # out), and the manipulations refused
    image_types: list[str] = field(default_factory=lambda: ["dermoscopic"])
    blank_image_type: str | None = None
    reject_manipulations: list[str] = field(default_factory=lambda: ["synthetic", "altered"])
    nevus_subtypes: list[str] | None = None  # derm7pt / isic_archive: the subtypes counted as nevus


# the keys of the data section each data rule depends on (its rule params)
INCLUSION_KEYS = ("image_types", "blank_image_type", "reject_manipulations")
DATA_RULE_KEYS = {
    "ingest": ("format", "minority", "majority", "nevus_subtypes", *INCLUSION_KEYS),
    "preprocess": ("image_size", "jpeg_draft", "max_reject_fraction"),
    # the split keys come per repeat from repeat_split (so adding a repeat reruns no split)
    "split": ("minority", "majority", "format", "phantom"),
}


def _keys(cls: type, section: Mapping[str, Any], where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``keys`` of a section, once the whole section has been checked against its dataclass."""
    from_dict(cls, section, where)
    return {k: section[k] for k in keys}


def data_params(section: Mapping[str, Any], rule: str) -> dict[str, Any]:
    """One data rule's keys of the (validated) data section; ingest gets the inclusion rule's
    keys as one mapping, ``inclusion``."""
    keys = _keys(DataConfig, section, "data", DATA_RULE_KEYS[rule])
    if rule == "ingest":
        keys["inclusion"] = {k: keys.pop(k) for k in INCLUSION_KEYS}
    return keys


def repeat_split(section: Mapping[str, Any], repeat: int) -> dict[str, Any]:
    """The split of repeat ``repeat``: the fractions, the seed of the test folds (the same for
    every repeat: the folds are dealt once, and repeat ``r`` tests on fold ``r``) and ``r``.
    Not the number of repeats, so adding a repeat reruns no existing split."""
    split = from_dict(SplitConfig, section["split"], "data.split")
    if not 0 <= repeat < split.repeats:
        raise ValueError(f"repeat {repeat} is outside data.split.repeats = {split.repeats}")
    return {
        "train": split.train,
        "val": split.val,
        "test": split.test,
        "seed": split.seed,
        "repeat": repeat,
    }


# ---------------------------------------------------------------- curation


@dataclass(frozen=True)
class ReviewConfig:
    mode: str = "files"  # files (the reviewers' exports) | simulate (demo only, labelled) | skip
    dir: str = "resources/reviews"  # where the exports go
    reviewers: int = 3  # reviewers expected; fewer is an error
    threshold: float = 3.5  # keep if the mean over criteria and reviewers is at least this
    simulate_noise: float = 0.6  # sd of each simulated reviewer's noise
    real_images: int = 20  # real training images mixed into the page, blinded (the visual Turing test)


@dataclass(frozen=True)
class CurationConfig:
    # keep if the Laplacian variance is above this (the study's 100 is for 256 px dermoscopy); or
    # one per generator ({<family>: <threshold>, ...}), since the value depends on a generator's grain
    blur_threshold: float | dict[str, float] = 100
    # or the one rule for every generator: at least this percentile of the real train-split
    # minority images' Laplacian variance (null: blur_threshold's fixed value)
    blur_percentile: float | None = None
    ssim_min: float = 0.3  # keep if the highest SSIM to a real training image is above this ...
    ssim_max: float = 0.95  # ... and below this (a near-copy otherwise)
    lpips_min: float = 0.15  # keep if the smallest LPIPS to a real training image is above this
    lpips_backbone: str = "imagenet"  # VGG16 trunk of LPIPS: imagenet | random
    chunk_size: int = 16  # synthetic images per batch in the SSIM and LPIPS stages (memory)
    tf32: bool = True  # TF32 in the LPIPS stage's VGG on CUDA (distances near lpips_min can move)
    review: ReviewConfig = field(default_factory=ReviewConfig)  # the human review
    cluster_backbone: str = "imagenet"  # features for the clusters: imagenet | efficientnet_lite0 | random
    n_clusters: int = 8  # K-means clusters on the t-SNE embedding
    final_count: int = 600  # images in the curated set
    min_per_cluster: int = 50  # at least this many from every cluster that has them

    def blur_of(self, generator: str) -> float:
        """The blur threshold of ``generator``'s images."""
        if not isinstance(self.blur_threshold, Mapping):
            return self.blur_threshold
        if generator not in self.blur_threshold:
            raise ValueError(
                f"curation.blur_threshold gives no threshold for generator {generator!r} (it names "
                f"{', '.join(self.blur_threshold) or 'none'}): add {generator}: <value>, or give one "
                "number for all"
            )
        return self.blur_threshold[generator]


# the keys of the curation section each stage depends on: its rule params, so changing one
# stage's threshold reruns that stage and what follows it, not the stages before
CURATION_STAGE_KEYS = {
    "blur": ("blur_threshold", "blur_percentile"),
    "ssim": ("ssim_min", "ssim_max", "chunk_size"),
    "lpips": ("lpips_min", "lpips_backbone", "chunk_size", "tf32"),
    "review": ("review",),
    # the thresholds too: the summary records the whole funnel with what each stage kept
    "clusters": (
        "cluster_backbone",
        "n_clusters",
        "final_count",
        "min_per_cluster",
        "lpips_backbone",
        "review",
        "blur_threshold",
        "blur_percentile",
        "ssim_min",
        "ssim_max",
        "lpips_min",
    ),
}


def curation_params(section: Mapping[str, Any], stage: str, generator: str) -> dict[str, Any]:
    """One stage's keys of the (validated) curation section for ``generator``'s images: its own
    blur threshold where the section gives one per generator, so changing one generator's
    threshold reruns no other generator's curation."""
    keys = _keys(CurationConfig, section, "curation", CURATION_STAGE_KEYS[stage])
    if "blur_threshold" in keys:
        cur = from_dict(CurationConfig, section, "curation")
        # under the shared rule the threshold comes from the real images, the same for every generator
        keys["blur_threshold"] = None if cur.blur_percentile is not None else cur.blur_of(generator)
    return keys


# ---------------------------------------------------------------- classifiers


@dataclass(frozen=True)
class FitConfig:
    """The training hyperparameters of one fit: the classifier section's keys a fit reads."""

    batch_size: int = 32  # the study's
    lr: float = 0.0001  # Adam learning rate
    weight_decay: float = 0.0001  # Adam weight decay
    max_epochs: int = 50  # upper bound; early stopping usually ends sooner
    patience: int = 10  # epochs without a better validation score before stopping
    class_weights: str | tuple[float, float] = "balanced"  # balanced per fit, or fixed [NV, DF]
    epoch_metric: str = "pr_auc"  # the validation score that picks the epoch: pr_auc | f1
    augment_padding: str = "reflection"  # the augmentation's fill: reflection | zeros (the study's)
    bf16: bool | str = "auto"  # bf16 autocast: auto (on CUDA only), true (wherever it runs), false
    tf32: bool = True  # TF32 matmuls and convolutions on CUDA (outside autocast)
    eval_batch_size: int = 128  # images per prediction batch (memory only; not a config key)

    def uses_bf16(self, device_type: str) -> bool:
        """Whether a fit on ``device_type`` runs under bf16 autocast (fp32 weights, the loss in
        fp32): ``auto`` is bf16 on CUDA and fp32 on the CPU, whose results stay as they were."""
        return self.bf16 is True or (self.bf16 == "auto" and device_type == "cuda")


@dataclass(frozen=True)
class ClassifierConfig(FitConfig):
    """The whole classifier section: a fit's hyperparameters, and which fits to run."""

    archs: tuple[str, ...] = ("resnet50", "densenet121", "efficientnet_b0")  # the networks
    weights: str | dict[str, str] = "imagenet"  # imagenet | random | a state dict; or per arch
    seeds: tuple[int, ...] = (42,)  # one fit per seed
    conditions: dict[str, dict] = field(default_factory=dict)  # name -> training-set recipe

    def weights_of(self, arch: str) -> str:
        if not isinstance(self.weights, dict):
            return self.weights
        if arch not in self.weights:  # a target that names an architecture the table leaves out
            raise ValueError(
                f"classifier.weights gives no weights for {arch!r} (it names {', '.join(self.weights)}): "
                f"add {arch}: imagenet, random or the path of a state dict to classifier.weights"
            )
        return self.weights[arch]


# the keys by which a condition's counts are matched to another condition's
MATCH_KEYS = ("oversample_to", "extra_real_to", "synthetic_count_to")


def matched_to(cond: Mapping[str, Any]) -> str | None:
    """The condition whose counts ``cond`` matches (oversample_to, extra_real_to or
    synthetic_count_to), or None: the one place that answers it."""
    return next((cond[k] for k in MATCH_KEYS if cond.get(k)), None)


@dataclass(frozen=True)
class Condition:
    name: str  # the {condition} wildcard
    synthetic: str  # none | raw | curated: where synthetic minority images come from
    n_synthetic: int  # how many to add (fewer when fewer exist; recorded)
    real_minority: bool  # keep the real minority training images (false: synthetic_only)
    augment: bool  # the traditional augmentation on minority images
    # repeat the real minority images up to the minority count of this other condition (the
    # equal-count control without a generator: real_oversampled -> gan_curated); None: no repeats
    oversample_to: str | None = None
    # add as many extra real minority images (lesions in no split) as this other condition adds
    # synthetic ones: what a perfect generator could give at most (real_extra -> gan_curated)
    extra_real_to: str | None = None
    # add synthetic_fraction x as many synthetic images as this other condition adds (an
    # uncurated set of gan_curated's count; gan_curated at 25 %), instead of n_synthetic
    synthetic_count_to: str | None = None
    synthetic_fraction: float = 1.0
    generator: str | None = None  # the family whose images it adds (None: the study's); picks folders
    loss: str | dict[str, Any] | None = None  # ganaug.training.losses (None: class-weighted CE)

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Condition:
        """A condition of the table (its ``name`` may be in ``d``): a key it does not know, such as
        a misspelt ``generator``, is an error, never ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"classifier.conditions.{name}: unknown key(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(known - {'name'}))}"
            )
        return cls(
            name,
            d["synthetic"],
            int(d.get("n_synthetic", 0)),
            bool(d["real_minority"]),
            bool(d["augment"]),
            d.get("oversample_to"),
            d.get("extra_real_to"),
            d.get("synthetic_count_to"),
            float(d.get("synthetic_fraction", 1.0)),
            d.get("generator"),
            d.get("loss"),
        )

    @property
    def matched_to(self) -> str | None:
        """The condition whose counts this one matches (``ganaug.settings.matched_to``)."""
        return matched_to(dataclasses.asdict(self))


def fit_params(section: Mapping[str, Any], arch: str, condition: str) -> dict[str, Any]:
    """Everything one (arch, condition) fit depends on, from the whole classifier section: its
    rule params, so adding a seed or an architecture reruns no existing fit."""
    cls = from_dict(ClassifierConfig, section, "classifier")
    keys = [f.name for f in dataclasses.fields(FitConfig) if f.name in section]  # the training keys
    cond = cls.conditions[condition]
    to = matched_to(cond)
    return {
        "fit": {k: section[k] for k in keys},
        "weights": cls.weights_of(arch),
        "condition": {"name": condition, **cond},
        "match": None if to is None else {"name": to, **cls.conditions[to]},
    }


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvaluationConfig:
    references: tuple[str, ...] = ("baseline",)  # conditions every other condition is compared with
    pairs: tuple[tuple[str, str], ...] = ()  # (condition, reference) comparisons beside those
    # the declared primary family (ganaug.primary.Primary): its keys, validated there
    primary: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.05  # the primary family's family-wise error rate (Holm)
    # the effect the study exists to detect, per primary metric: what design.csv and the plan
    # give the power at (PR-AUC's 0.23 is what +0.20 tuned sensitivity moves it by in the noisy
    # calibration world: benchmarks/bench_design.py)
    effect_of_interest: dict[str, float] = field(
        default_factory=lambda: {"sensitivity": 0.20, "pr_auc": 0.23}
    )
    bootstrap_resamples: int = 2000  # resamples of the paired lesion bootstrap
    feature_extractor: str = "inception"  # GAN-metric features: inception | efficientnet_lite0 | random
    dinov2: str = "pretrained"  # the second feature space (DINOv2 ViT-S/14): pretrained | random | none
    dinov2_size: int = 224  # px a side DINOv2 sees (a multiple of its 14-px patch)
    batch_size: int = 50  # images per feature-extractor pass
    is_splits: int = 10  # splits of the Inception Score
    kid_subsets: int = 100  # subsets KID is averaged over
    kid_subset_size: int = 1000  # images per KID subset (capped at the smaller set)
    pr_k: int = 3  # the k of improved precision and recall
    lpips_diversity_images: int = 100  # LPIPS diversity over all pairs of a sample this big
    real_vs_synthetic: int = 10  # images each side of real_vs_synthetic.png
    size_draws: int = 10  # seeded draws of each set and reference at equal size (GAN metrics)
    copying_cells: int = 3  # k-means cells of the data-copying test (fewer where a cell would be empty)
    tf32: bool = True  # TF32 in the GAN metrics' feature networks on CUDA
    study_expected_f1: dict[str, dict[str, float]] = field(default_factory=dict)  # the study's, labelled
    # out-of-distribution test sets by name: {format, images, ground_truth, metadata, masks,
    # nevus_subtypes, phantom}; their rules read them (workflow/rules/external.smk)
    external: dict[str, dict[str, Any]] = field(default_factory=dict)


# the keys of the evaluation section each rule depends on (its rule params)
EVALUATION_RULE_KEYS = {
    "significance": ("references", "pairs", "primary", "alpha", "bootstrap_resamples"),
    "ablation": ("study_expected_f1",),
    "design": ("primary", "alpha", "effect_of_interest"),
    # every key of the GAN metrics' features, figures and draws (a split string: thirteen lines
    # as a literal would take the module past its 400)
    "gan_metrics": tuple(
        "feature_extractor dinov2 dinov2_size batch_size is_splits kid_subsets kid_subset_size pr_k "  # noqa: SIM905
        "lpips_diversity_images real_vs_synthetic size_draws copying_cells tf32".split()
    ),
    "final_results": ("study_expected_f1",),
}


def evaluation_params(section: Mapping[str, Any], rule: str) -> dict[str, Any]:
    """One rule's keys of the (validated) evaluation section."""
    return _keys(EvaluationConfig, section, "evaluation", EVALUATION_RULE_KEYS[rule])
