"""Where the raw data come from, and the rule that keeps them safe from the workflow itself.

A researcher's files are never a rule output: Snakemake deletes a rule's outputs before it runs
the rule (and ``-F`` or ``--forcerun`` run it again), so a rule that declared the user's images
folder as its output could delete it. Three origins, each with its own folder:

- ``user``: the files the config points at (or the format's standard place under
  ``resources/<format>/``). Only ever read.
- ``phantom``: the embedded demo set, generated under :data:`PHANTOM_DIR`, a folder the
  workflow owns. It reads nothing else.
- ``download``: ISIC 2019 fetched into :data:`DOWNLOAD_DIR`, another folder the workflow owns,
  and only when the configured files are missing. Only the *missing* files are the download
  rule's outputs, so a completed download is never an output again and no later run can delete it.

Pure path logic (no torch), so the Snakefile can call it while it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganaug.data.labels import nevus_subtype_problems
from ganaug.settings import DataConfig, PhantomConfig

# the archive's own test folds, as the name of a test set beside evaluation.external's (the one
# definition: ganaug.evaluation.columns and the config checks read it from here)
IN_DISTRIBUTION = "in_distribution"
PHANTOM_DIR = "resources/phantom"
DOWNLOAD_DIR = "resources/downloads/isic2019"
# the extra real minority images isic-cli fetches from the ISIC Archive (data.archive_extra)
ARCHIVE_EXTRA_DIR = "resources/downloads/isic_archive_extra/images"
ARCHIVE_DEFAULT_SEARCH = 'diagnosis_3:"Dermatofibroma" AND image_type:dermoscopic'

# The standard place of each format's files, used when data.images / ground_truth / metadata are
# left null. Keeping these out of config/config.yaml means a small --configfile for another format
# inherits no ISIC 2019 path from it (the merge is key by key).
FORMAT_DEFAULTS: dict[str, dict[str, str | None]] = {
    "isic2019": {
        "images": "resources/isic2019/ISIC_2019_Training_Input",
        "ground_truth": "resources/isic2019/ISIC_2019_Training_GroundTruth.csv",
        "metadata": "resources/isic2019/ISIC_2019_Training_Metadata.csv",
    },
    "isic2020": {
        "images": "resources/isic2020/train",
        "ground_truth": "resources/isic2020/ISIC_2020_Training_GroundTruth_v2.csv",
        "metadata": None,
    },
    "ham10000": {
        "images": "resources/ham10000/images",
        "ground_truth": "resources/ham10000/HAM10000_metadata.csv",
        "metadata": None,
    },
    # isic-cli's layout: `isic image download resources/isic_archive/images` writes the images,
    # metadata.csv, attribution.txt and licenses/ into that folder (archive_metadata_default)
    "isic_archive": {
        "images": "resources/isic_archive/images",
        "ground_truth": None,
        "metadata": None,
    },
    # Derm7pt's release: images/<folder>/<file> named by meta/meta.csv's derm column
    "derm7pt": {
        "images": "resources/derm7pt/images",
        "ground_truth": "resources/derm7pt/meta/meta.csv",
        "metadata": None,
    },
}
# formats whose lesion ids are in a separate metadata file (the others carry them in ground_truth)
FORMATS_WITH_METADATA = ("isic2019",)
PATH_KEYS = ("images", "ground_truth", "metadata", "masks")


def phantom_layout(with_masks: bool = True) -> dict[str, str | None]:
    """The files the phantom generator writes, all under PHANTOM_DIR (the ISIC 2019 layout)."""
    return {
        "images": f"{PHANTOM_DIR}/ISIC_2019_Training_Input",
        "ground_truth": f"{PHANTOM_DIR}/ISIC_2019_Training_GroundTruth.csv",
        "metadata": f"{PHANTOM_DIR}/ISIC_2019_Training_Metadata.csv",
        "masks": f"{PHANTOM_DIR}/masks" if with_masks else None,
    }


def extra_minority_source(data: Mapping[str, Any]) -> str | None:
    """The folder of extra real minority images (lesions in no split) for the real_extra control:
    the phantom's own, the user's data.extra_minority (only ever read), or None."""
    if data["phantom"] is not None:
        return f"{PHANTOM_DIR}/extra_minority" if data["phantom"].get("n_extra_minority") else None
    if data.get("archive_extra") is not None:
        return ARCHIVE_EXTRA_DIR
    return data.get("extra_minority")


def download_layout() -> dict[str, str]:
    """The files an ISIC 2019 download writes, all under DOWNLOAD_DIR."""
    return {
        "images": f"{DOWNLOAD_DIR}/ISIC_2019_Training_Input",
        "ground_truth": f"{DOWNLOAD_DIR}/ISIC_2019_Training_GroundTruth.csv",
        "metadata": f"{DOWNLOAD_DIR}/ISIC_2019_Training_Metadata.csv",
    }


@dataclass(frozen=True)
class ExternalSetConfig:
    """One out-of-distribution test set (evaluation.external.<name>): its own files, or a phantom."""

    format: str = "isic2019"  # layout of ground_truth / metadata (as data.format)
    images: str | None = None  # folder of <image_id>.jpg
    ground_truth: str | None = None  # the label CSV of the format
    metadata: str | None = None  # ISIC 2019's lesion-id CSV (isic2019 only)
    masks: str | None = None  # folder of <image_id>_segmentation.png, optional
    nevus_subtypes: tuple[str, ...] | None = None  # derm7pt / isic_archive: the subtypes counted as nevus
    phantom: PhantomConfig | None = None  # generate the set (under resources/phantom_external/<name>/)


def data_problems(data: DataConfig) -> list[str]:
    """Keys that make no sense for the data section's format or origin (each names the key)."""
    from ganaug.data.inclusion import inclusion_problems

    problems = inclusion_problems(data)
    fmt = data.format
    problems += nevus_subtype_problems("data.nevus_subtypes", fmt, data.nevus_subtypes)
    if data.phantom is not None:
        if fmt != "isic2019":
            problems.append(
                "config key 'data.phantom' writes the ISIC 2019 layout, so 'data.format' must be "
                f"isic2019, got {fmt!r}"
            )
        for key in PATH_KEYS:
            if getattr(data, key) is not None:
                problems.append(
                    f"config key 'data.{key}': {getattr(data, key)!r} is set, but with 'data.phantom' the "
                    f"workflow generates its own data under {PHANTOM_DIR}/ and reads nothing else; "
                    f"remove data.{key} (or set data.phantom: null to use your own files)"
                )
        if data.download:
            problems.append(
                "config key 'data.download': true, but 'data.phantom' is set: the phantom set is "
                "generated, nothing is downloaded; remove data.download"
            )
        for key in ("extra_minority", "archive_extra"):
            if getattr(data, key) is not None:
                problems.append(
                    f"config key 'data.{key}' is set, but 'data.phantom' generates its own extra "
                    f"DF images (data.phantom.n_extra_minority); remove data.{key}"
                )
        return problems
    if data.archive_extra is not None and data.extra_minority is not None:
        problems.append(
            "config keys 'data.extra_minority' and 'data.archive_extra' are both set: the real_extra "
            "pool is one folder; keep one"
        )
    if data.metadata is not None and fmt not in FORMATS_WITH_METADATA:
        problems.append(
            f"config key 'data.metadata': {data.metadata!r} is set, but format {fmt!r} carries "
            "its lesion and patient ids in data.ground_truth and reads no separate metadata file "
            "(only isic2019 does); remove data.metadata"
        )
    if data.download and fmt != "isic2019":
        problems.append(
            f"config key 'data.download': true, but only ISIC 2019 can be downloaded, and "
            f"'data.format' is {fmt!r}; remove data.download (or set it to false)"
        )
    return problems


def archive_metadata_default(images: str) -> str:
    """Where an ISIC Archive export's metadata.csv is when data.ground_truth is null: inside the
    images folder, where ``isic image download <folder>`` writes it (with attribution.txt and
    licenses/), unless only the older layout (metadata.csv beside the folder) is there."""
    inside = Path(images) / "metadata.csv"
    beside = Path(images).parent / "metadata.csv"
    return str(beside) if beside.is_file() and not inside.is_file() else str(inside)


def fill_data_defaults(data: dict[str, Any]) -> None:
    """Resolve null paths to the format's standard place, and download null to the format's
    default (ISIC 2019: fetch when missing; other formats: never). In place."""
    if data["phantom"] is None:
        for key, default in FORMAT_DEFAULTS[data["format"]].items():
            if data[key] is None:
                data[key] = default
        if data["format"] == "isic_archive" and data.get("ground_truth") is None:
            data["ground_truth"] = archive_metadata_default(data["images"])
    if data["download"] is None:
        data["download"] = data["phantom"] is None and data["format"] == "isic2019"


@dataclass(frozen=True)
class DataSource:
    origin: str  # "user", "phantom" or "download": who wrote the files
    images: str  # folder of <image_id>.jpg
    ground_truth: str  # the label CSV
    metadata: str | None  # ISIC 2019's lesion-id CSV (None: not used)
    masks: str | None  # folder of <image_id>_segmentation.png (None: none)
    missing: tuple[str, ...]  # 'data.<key>: <path>' of the configured files that are not there
    to_fetch: dict[str, str]  # download only: key -> owned path still to be fetched

    def paths(self) -> dict[str, str]:
        """The files ingest and preprocess read, by role (metadata and masks only when used)."""
        out = {"images": self.images, "ground_truth": self.ground_truth}
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.masks is not None:
            out["masks"] = self.masks
        return out


def resolve(data: Mapping[str, Any]) -> DataSource:
    """The data source of a validated ``data`` section (see the module docstring)."""
    if data["phantom"] is not None:
        layout = phantom_layout()
        return DataSource("phantom", **layout, missing=(), to_fetch={})  # type: ignore[arg-type]
    wanted = {k: data[k] for k in ("images", "ground_truth", "metadata") if data[k] is not None}
    missing = tuple(f"data.{k}: {v}" for k, v in wanted.items() if not Path(v).exists())
    if missing and data["download"]:
        owned = download_layout()
        if data["metadata"] is None:
            owned.pop("metadata")
        to_fetch = {k: v for k, v in owned.items() if not Path(v).exists()}
        return DataSource(
            "download",
            owned["images"],
            owned["ground_truth"],
            owned.get("metadata"),
            data["masks"],
            missing,
            to_fetch,
        )
    return DataSource(
        "user", data["images"], data["ground_truth"], data["metadata"], data["masks"], missing, {}
    )


def missing_data_message(src: DataSource) -> str:
    return (
        "input data not found:\n  - " + "\n  - ".join(src.missing) + "\nPut the files there, point "
        "the config at them (config/README.md lists each format's standard place), set "
        "data.download: true to fetch ISIC 2019 into " + DOWNLOAD_DIR + "/, or run the demo with "
        "--configfile config/demo.yaml"
    )


# ---------------------------------------------------------------- external test sets

PHANTOM_EXTERNAL_DIR = "resources/phantom_external"


def external_phantom_layout(name: str) -> dict[str, str | None]:
    """An external phantom set's files, under its own folder the workflow owns."""
    root = f"{PHANTOM_EXTERNAL_DIR}/{name}"
    return {
        "images": f"{root}/images",
        "ground_truth": f"{root}/ground_truth.csv",
        "metadata": f"{root}/metadata.csv",
        "masks": f"{root}/masks",
    }


def external_problems(name: str, spec: ExternalSetConfig) -> list[str]:
    """Keys of evaluation.external.<name> that make no sense together (each names the key)."""
    key = f"evaluation.external.{name}"
    fmt, problems = spec.format, []
    if spec.phantom is not None:
        if fmt != "isic2019":
            problems.append(
                f"config key '{key}.phantom' writes the ISIC 2019 layout: '{key}.format' must be isic2019"
            )
        problems += [
            f"config key '{key}.{k}' is set, but the set is generated ('{key}.phantom'); remove it"
            for k in PATH_KEYS
            if getattr(spec, k) is not None
        ]
        return problems
    for k in ("images", "ground_truth"):
        if getattr(spec, k) is None:
            problems.append(f"config key '{key}.{k}' is required (or '{key}.phantom' to generate the set)")
    if spec.metadata is not None and fmt not in FORMATS_WITH_METADATA:
        problems.append(
            f"config key '{key}.metadata' is set, but format {fmt!r} reads no separate metadata file"
        )
    problems += nevus_subtype_problems(f"{key}.nevus_subtypes", fmt, spec.nevus_subtypes)
    return problems


def resolve_external(name: str, spec: Mapping[str, Any]) -> DataSource:
    """Where an external set's raw files are: generated (phantom) or the user's, only ever read."""
    if spec["phantom"] is not None:
        return DataSource("phantom", **external_phantom_layout(name), missing=(), to_fetch={})  # type: ignore[arg-type]
    wanted = {k: spec[k] for k in ("images", "ground_truth", "metadata") if spec[k] is not None}
    missing = tuple(f"evaluation.external.{name}.{k}: {v}" for k, v in wanted.items() if not Path(v).exists())
    return DataSource(
        "user", spec["images"], spec["ground_truth"], spec["metadata"], spec["masks"], missing, {}
    )
