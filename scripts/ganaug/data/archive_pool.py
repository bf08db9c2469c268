"""Extra real minority images from the ISIC Archive, fetched by its own client, for the real_extra
control's ceiling.

The Archive holds dermatofibroma images beyond ISIC 2019's 239. The official client, ``isic-cli``
(pinned in pyproject.toml), fetches them by a search query::

    isic image download --search 'diagnosis_3:"Dermatofibroma" AND image_type:dermoscopic' <folder>

and writes the images (``<isic_id>.jpg``), ``metadata.csv``, ``attribution.txt`` and ``licenses/``
into ``<folder>``. It needs the internet, so the rule that runs it is a local rule (the login
node on a cluster).

The images go to :data:`ganaug.data.sources.ARCHIVE_EXTRA_DIR`, a folder the workflow owns. The
client runs into ``<folder>.part`` (not a rule output, so nothing deletes it), where a failed or
interrupted run leaves what it fetched and the next run fetches only the rest: isic-cli skips a
file that is already there with its size. Only a complete export (metadata.csv written, every
listed image present) is renamed into place, and then protected.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ganaug.data.download import DownloadError
from ganaug.data.inclusion import EXCLUDED
from ganaug.data.labels import normalise_label
from ganaug.data.preprocess import find_image
from ganaug.data.readers.isic_archive import read_isic_archive
from ganaug.data.sources import ARCHIVE_DEFAULT_SEARCH

log = logging.getLogger(__name__)

DEFAULT_SEARCH = ARCHIVE_DEFAULT_SEARCH


def isic_command(search: str, outdir: str | Path, limit: int = 0, executable: str = "isic") -> list[str]:
    """The isic-cli call that downloads the images matching ``search`` (and their metadata)."""
    cmd = [executable, "image", "download", "--search", search]
    if limit:
        cmd += ["--limit", str(int(limit))]
    return [*cmd, str(outdir)]


def missing_images(folder: str | Path) -> list[str]:
    """The isic ids metadata.csv lists with no image file beside it (all of them when there is no
    metadata.csv: isic-cli writes it last, so its absence means the download did not finish)."""
    folder = Path(folder)
    meta = folder / "metadata.csv"
    if not meta.is_file():
        raise DownloadError(f"{folder}: no metadata.csv; the isic-cli download did not finish")
    ids = pd.read_csv(meta, dtype=str, keep_default_na=False, encoding="utf-8-sig")["isic_id"]
    have = {p.stem for p in folder.iterdir() if p.is_file() and not p.name.startswith(".isic-partial")}
    return [i for i in ids if i not in have]


def fetch_archive_pool(
    search: str,
    dest: str | Path,
    limit: int = 0,
    executable: str = "isic",
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> Path:
    """Run isic-cli into ``dest``.part, check the export is complete, rename it to ``dest``."""
    dest = Path(dest)
    if dest.exists():
        raise DownloadError(f"{dest} already exists: the workflow never replaces a completed download")
    # the isic beside this interpreter (the project's venv), so an unactivated venv still works
    if "/" not in executable and (beside := Path(sys.executable).with_name(executable)).is_file():
        executable = str(beside)
    if shutil.which(executable) is None:
        raise DownloadError(
            f"{executable!r} (isic-cli) is not installed: `pip install isic-cli` (make install does), then "
            "run this rule where there is internet (the login node)"
        )
    staging = dest.with_name(dest.name + ".part")
    staging.mkdir(parents=True, exist_ok=True)
    before = sum(1 for p in staging.iterdir() if p.is_file())
    cmd = isic_command(search, staging, limit, executable)
    log.info("running %s (%d files already fetched into %s)", shlex.join(cmd), before, staging)
    # no terminal: isic-cli would ask before a download larger than the free disk space
    proc = run(cmd, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise DownloadError(
            f"isic-cli failed (exit {proc.returncode}): {shlex.join(cmd)}. The files it fetched stay in "
            f"{staging}; run the rule again to fetch only the rest"
        )
    gone = missing_images(staging)
    if gone:
        raise DownloadError(
            f"{staging}: metadata.csv lists {len(gone)} image(s) that were not downloaded "
            f"(first: {', '.join(gone[:5])}); run the rule again to fetch only those"
        )
    for partial in staging.glob(".isic-partial.*"):  # left by a killed isic-cli
        partial.unlink()
    os.replace(staging, dest)
    n = sum(1 for p in dest.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    log.info("the Archive pool: %d images in %s", n, dest)
    return dest


def archive_pool_rule(search: str, limit: int, dest: str | None, nothing_to_fetch: str | None) -> None:
    """The rule download_archive_extra: fetch the pool, or say why there is nothing to fetch."""
    if dest is None:
        log.info("nothing to fetch: %s", nothing_to_fetch)
        return
    fetch_archive_pool(search, dest, limit)


def pool_labels(images_dir: str | Path, minority: str, inclusion=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the pool's images of the minority class that the inclusion rule admits, with their lesion
    ids, licences and files; the rows left out, ``image_id,reason``) from an isic-cli export."""
    images_dir = Path(images_dir)
    labels = read_isic_archive(images_dir / "metadata.csv", inclusion=inclusion)
    minority = normalise_label(minority)
    out = []
    for r in labels.itertuples():
        if r.excluded:
            out.append((r.image_id, f"{r.excluded} (metadata.csv row {r.row})"))
        elif r.label != minority:
            # not part of the pool (the search is the user's), so not a lost image either
            out.append(
                (
                    r.image_id,
                    f"{EXCLUDED}: diagnosis {r.label!r} is not {minority!r} (metadata.csv row {r.row})",
                )
            )
    left_out = {i for i, _ in out}
    kept = labels[~labels["image_id"].isin(left_out)].copy()
    files = [find_image(images_dir, i) for i in kept["image_id"]]
    kept["file"] = [p.name if p is not None else "" for p in files]
    return kept.reset_index(drop=True), pd.DataFrame(out, columns=["image_id", "reason"])


def has_isic_cli_layout(folder: str | Path) -> bool:
    """An isic-cli export: a metadata.csv beside the images whose first column is isic_id (a
    plain folder of images with some other metadata.csv is read as a plain folder)."""
    meta = Path(folder) / "metadata.csv"
    if not meta.is_file():
        return False
    with open(meta, encoding="utf-8-sig") as f:
        return f.readline().strip().split(",")[0] == "isic_id"
