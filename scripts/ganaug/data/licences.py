"""Licences and attribution of every real image a run uses.

A researcher who publishes a figure with real images, or a synthetic set learnt from them, owes
their attribution and must respect their licence. The ISIC Archive gives both per image
(isic-cli's ``attribution`` and ``copyright_license``: CC-0, CC-BY, CC-BY-NC); the challenge
releases are under one licence each, stated here with the citation they ask for. The phantom
images are this workflow's own drawings.

``results/data/attribution.csv`` lists every real image of the training archive (every split),
every external test image kept and every image of the extra pool, with its licence, its
attribution and whether the licence forbids commercial use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ganaug.io import write_csv

# (licence, attribution) of the formats whose images share one licence; the Archive's are per image
FORMAT_LICENCES: dict[str, tuple[str, str]] = {
    "isic2019": (
        "CC-BY-NC",
        "ISIC 2019 Challenge training data (CC BY-NC 4.0): Tschandl, Rosendahl and Kittler, The HAM10000 "
        "dataset, Sci. Data 5, 180161 (2018); Codella et al., Skin lesion analysis toward melanoma "
        "detection, ISBI 2018, arXiv:1710.05006; Combalia et al., BCN20000: dermoscopic lesions in the "
        "wild, arXiv:1908.02288 (2019)",
    ),
    "ham10000": (
        "CC-BY-NC",
        "HAM10000 (CC BY-NC 4.0): Tschandl, Rosendahl and Kittler, Sci. Data 5, 180161 (2018)",
    ),
    "isic2020": (
        "CC-BY-NC",
        "ISIC 2020 Challenge (CC BY-NC 4.0): Rotemberg et al., A patient-centric dataset of images and "
        "metadata for identifying melanomas using clinical context, Sci. Data 8, 34 (2021)",
    ),
    # Derm7pt's release states its own terms of use; nothing here claims a licence for it
    "derm7pt": ("", "Derm7pt: Kawahara et al., IEEE J. Biomed. Health Inform. 23(2), 538-546 (2019)"),
    "phantom": ("MIT", "phantom image drawn by this workflow (ganaug.data.phantom), not a photograph"),
}
ATTRIBUTION_COLUMNS = ["image_id", "set", "license", "attribution", "non_commercial"]
UNKNOWN = "unknown: not given by the source; check its terms before reuse"


def is_non_commercial(licence: str) -> bool:
    return "NC" in str(licence).upper().replace("-", " ").split()


def _rows(table: pd.DataFrame, set_name: str, fmt: str | None) -> pd.DataFrame:
    licence, attribution = FORMAT_LICENCES.get(fmt, ("", "")) if fmt else ("", "")
    own_lic = table["license"] if "license" in table.columns else pd.Series("", index=table.index)
    own_att = table["attribution"] if "attribution" in table.columns else pd.Series("", index=table.index)
    lic = own_lic.where(own_lic != "", licence).replace("", UNKNOWN)
    att = own_att.where(own_att != "", attribution).replace("", UNKNOWN)
    return pd.DataFrame(
        {
            "image_id": table["image_id"].to_numpy(),
            "set": set_name,
            "license": lic.to_numpy(),
            "attribution": att.to_numpy(),
            "non_commercial": [is_non_commercial(v) for v in lic],
        }
    )


def attribution_table(sets: Sequence[tuple[pd.DataFrame, str, str | None]]) -> pd.DataFrame:
    """One row per image of each (table, set name, format) in ``sets``."""
    frames = [_rows(t, name, fmt) for t, name, fmt in sets if len(t)]
    if not frames:
        return pd.DataFrame(columns=ATTRIBUTION_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def licence_counts(table: pd.DataFrame) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(table["license"].value_counts().items())}


def licence_summary(path: str | Path) -> dict:
    """What final_results.json says of attribution.csv: counts per licence and set, and how many
    images are under a non-commercial licence."""
    att = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {
        "file": str(path),
        "images": len(att),
        "by_licence": licence_counts(att),
        "by_set": {k: licence_counts(g) for k, g in att.groupby("set")},
        "non_commercial": int((att["non_commercial"] == "True").sum()),
    }


def attribution_rule(
    archive: str | Path,
    archive_format: str,
    out: str | Path,
    external: Mapping[str, tuple[str | Path, str | Path, str | None]] | None = None,
    extra: str | Path | None = None,
    extra_source: str | Path | None = None,
    extra_format: str | None = None,
) -> dict[str, int]:
    """The rule attribution. ``archive``: preprocessed.csv (every image in some split);
    ``external``: name -> (preprocessed.csv, metadata.csv of the images kept, format);
    ``extra``: the extra pool's metadata.csv; ``extra_source``: the pool's raw folder, whose
    isic-cli metadata.csv gives each image's licence (a plain folder of images gives none)."""
    read = {"dtype": str, "keep_default_na": False}
    sets = [(pd.read_csv(archive, **read), "archive", archive_format)]
    for name, (table, kept, fmt) in (external or {}).items():
        t = pd.read_csv(table, **read)
        ids = set(pd.read_csv(kept, **read)["image_id"])
        sets.append((t[t["image_id"].isin(ids)], f"external:{name}", fmt))
    if extra is not None:
        pool = pd.read_csv(extra, **read)
        raw = None if extra_source is None else Path(extra_source) / "metadata.csv"
        if raw is not None and raw.is_file():
            meta = pd.read_csv(raw, encoding="utf-8-sig", **read)
            meta = meta.rename(columns={"isic_id": "image_id", "copyright_license": "license"})
            cols = [c for c in ("image_id", "license", "attribution") if c in meta.columns]
            pool = pool.drop(columns=[c for c in ("license", "attribution") if c in pool.columns])
            pool = pool.merge(meta[cols], on="image_id", how="left").fillna("")
        sets.append((pool, "extra", extra_format))
    table = attribution_table(sets)
    write_csv(table, out)
    return licence_counts(table)
