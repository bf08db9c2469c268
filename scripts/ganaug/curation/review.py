"""Human review: the reviewers' page, ingestion of their scores, and the simulated stand-in.

The study has three people score each candidate on five criteria from 1 to 5: overall realism,
colour authenticity, texture accuracy, lesion boundary definition and artifacts (5 = none). An
image is kept when its mean over criteria and reviewers is at least the threshold (3.5).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.io import atomic_path

log = logging.getLogger(__name__)

CRITERIA = {
    "realism": "Overall realism",
    "color": "Colour authenticity",
    "texture": "Texture accuracy",
    "boundary": "Lesion boundary definition",
    "artifacts": "Artifacts (5 = none)",
}
COLUMNS = ["reviewer", "image", *CRITERIA]
TEMPLATE = Path(__file__).with_name("review_page.html")


class ReviewError(ValueError):
    """A review file is malformed, incomplete or inconsistent with the candidates."""


def write_review_sheet(images: Mapping[str, str | Path], out_dir: str | Path, page_id: str) -> Path:
    """A folder a reviewer opens in a browser: index.html plus the images, each copied under
    the name it is shown with (``images``: shown name -> file; blinded names for the visual
    Turing test, ganaug.curation.turing)."""
    out_dir = Path(out_dir)
    folder = out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in images.items():
        shutil.copyfile(source, folder / name)
    candidates = list(images)
    data = {
        "pageId": page_id,
        "images": candidates,
        "criteria": [{"key": k, "label": v} for k, v in CRITERIA.items()],
    }
    # "<" escaped so that no image name can close the script element
    payload = json.dumps(data).replace("<", "\\u003c")
    html = TEMPLATE.read_text(encoding="utf-8").replace("__REVIEW_DATA__", payload)
    with atomic_path(out_dir / "index.html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("review page for %d images: %s", len(candidates), out_dir / "index.html")
    return out_dir / "index.html"


# the separators spreadsheets write: ',' (en-US), ';' (locales whose decimal mark is ','), tab
DELIMITERS = (",", ";", "\t")
SCORE = re.compile(r"([1-5])(?:[.,]0+)?")


def _open_rows(f: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (line, cells) of a review export as a person or a spreadsheet saved it: UTF-8
    with or without a BOM, LF or CRLF, ',' ';' or tab between quoted or plain fields."""
    try:
        text = f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReviewError(
            f"{f}: not UTF-8 text (byte {err.start}); save it as 'CSV UTF-8' from the spreadsheet"
        ) from None
    lines = text.splitlines(keepends=True)
    if not lines:
        raise ReviewError(f"{f}: empty file; expected the header {','.join(COLUMNS)}")
    first = lines[0]
    delimiter = max(DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as err:
        raise ReviewError(f"{f}, row 1: {err}") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise ReviewError(f"{f}, row {reader.line_num}: {err}") from None
            if any(c.strip() for c in cells):  # spreadsheets append empty rows
                yield reader.line_num, [c.strip() for c in cells]

    return header, rows()


def _score(value: str, crit: str, where: str) -> int:
    # a spreadsheet may save 4 as 4.0 (or 4,0 where ',' is the decimal mark): still the integer 4
    m = SCORE.fullmatch(value)
    if m is None:
        raise ReviewError(f"{where}: {crit} must be an integer from 1 to 5, got {value!r}")
    return int(m.group(1))


def read_review_files(
    files: list[str | Path], candidates: list[str], reviewers: int, others: re.Pattern | None = None
) -> pd.DataFrame:
    """Validate every file and row; return one row per (reviewer, image) of ``candidates`` with
    integer scores. ``others``: the shown names of the page's other images (another generator's),
    whose rows are passed over; any other unknown name is an error."""
    if not files:
        raise ReviewError("no review files given")
    known = set(candidates)
    rows: list[dict] = []
    seen: dict[tuple[str, str], str] = {}
    for f in sorted(map(Path, files)):
        header, records = _open_rows(f)
        if sorted(header) != sorted(COLUMNS):
            raise ReviewError(
                f"{f}: header must be {','.join(COLUMNS)} (in any order), "
                f"found {','.join(header) or 'nothing'}"
            )
        names = set()
        for line, cells in records:
            where = f"{f}, row {line}"
            if len(cells) != len(header):
                raise ReviewError(f"{where}: {len(cells)} fields, the header has {len(header)}")
            rec: dict = dict(zip(header, cells, strict=True))
            if not rec["reviewer"]:
                raise ReviewError(f"{where}: empty reviewer name")
            if rec["image"] not in known:
                if others is not None and others.fullmatch(rec["image"]):
                    names.add(rec["reviewer"])
                    continue
                raise ReviewError(f"{where}: unknown image {rec['image']!r} (not a review candidate)")
            for crit in CRITERIA:
                rec[crit] = _score(rec[crit], crit, where)
            key = (rec["reviewer"], rec["image"])
            if key in seen:
                raise ReviewError(
                    f"{where}: duplicate row, {rec['reviewer']} already scored {rec['image']} ({seen[key]})"
                )
            seen[key] = where
            names.add(rec["reviewer"])
            rows.append(rec)
        if len(names) > 1:
            raise ReviewError(f"{f}: one file per reviewer expected, found {', '.join(sorted(names))}")
    table = pd.DataFrame(rows, columns=COLUMNS)
    found = sorted(table["reviewer"].unique())
    if len(found) < reviewers:
        raise ReviewError(f"expected {reviewers} reviewers, found {len(found)}: {', '.join(found) or 'none'}")
    unscored = sorted(known - set(table["image"]))
    if unscored:
        raise ReviewError(
            f"{len(unscored)} candidate image(s) scored by nobody, e.g. {', '.join(unscored[:5])}"
        )
    return table


def aggregate(scores: pd.DataFrame, candidates: list[str], threshold: float, mode: str) -> pd.DataFrame:
    """Mean per image over reviewers (per criterion) and over criteria (the score)."""
    per = scores.groupby("image")[list(CRITERIA)].mean()
    per["n_reviewers"] = scores.groupby("image")["reviewer"].nunique()
    per["score"] = scores.groupby("image")[list(CRITERIA)].mean().mean(axis=1)
    t = per.reindex(candidates).reset_index().rename(columns={"index": "image"})
    t["kept"] = t["score"] >= threshold
    t["reason"] = np.where(t["kept"], "", f"review score < {threshold:g}")
    t["review_mode"] = mode
    return t


def simulate_scores(
    proxy: pd.DataFrame, reviewers: int, noise: float, seed: int, real: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Scores from an automatic proxy, for the demo only (every output says so).

    Proxy: a realistic image is sharp and resembles the real lesions, so its base score is
    3 + 0.75 z(log Laplacian variance) + 0.75 z(max SSIM), with z the standardisation over the
    candidates. Each simulated reviewer adds its own N(0, noise) per criterion; the result is
    rounded and clipped to 1..5. ``real`` (the visual Turing test's real images, with the same
    proxy columns) is scored on the candidates' scale with its own noise stream, so mixing real
    images in changes no candidate's score.
    """
    lap, sim = np.log1p(proxy["laplacian_var"].to_numpy(float)), proxy["max_ssim"].to_numpy(float)

    def z(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
        sd = ref.std()
        return (v - ref.mean()) / sd if sd > 0 else np.zeros_like(v)

    def scored(frame: pd.DataFrame, stream: tuple[int, ...]) -> list[dict]:
        base = 3.0 + 0.75 * z(np.log1p(frame["laplacian_var"].to_numpy(float)), lap)
        base += 0.75 * z(frame["max_ssim"].to_numpy(float), sim)
        rows = []
        for r in range(reviewers):
            rng = np.random.default_rng([seed, r, *stream])
            noisy = base[:, None] + rng.normal(0.0, noise, size=(len(base), len(CRITERIA)))
            s = np.clip(np.rint(noisy), 1, 5).astype(int)
            who = f"simulated_{r + 1}"
            rows += [
                {"reviewer": who, "image": name, **dict(zip(CRITERIA, vals, strict=True))}
                for name, vals in zip(frame["image"], s, strict=True)
            ]
        return rows

    rows = scored(proxy, ())
    if real is not None and len(real):
        rows += scored(real, (1,))
    return pd.DataFrame(rows, columns=COLUMNS)
