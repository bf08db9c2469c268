"""Resumable, verified downloads of the ISIC 2019 challenge files, and a safe unzip.

A download goes to ``<name>.part``; a restart asks the server for the remaining bytes (HTTP
Range) and appends them. The finished file must have the size the server announced and, when
a SHA-256 is configured for it, that hash; only then is it renamed into place. Archives are
extracted member by member after checking that no member can land outside the target folder
(absolute paths, ``..``, symbolic links: "zip slip").
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ganaug.data.sources import download_layout

log = logging.getLogger(__name__)

ISIC2019_FILES = {
    "images": "ISIC_2019_Training_Input.zip",
    "ground_truth": "ISIC_2019_Training_GroundTruth.csv",
    "metadata": "ISIC_2019_Training_Metadata.csv",
}
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download was incomplete, did not match its checksum, or an archive was unsafe."""


def _total_size(resp: urllib.response.addinfourl, offset: int) -> int | None:
    if resp.status == 206:
        m = re.match(r"bytes (\d+)-(\d+)/(\d+)", resp.headers.get("Content-Range", ""))
        if not m or int(m.group(1)) != offset:
            raise DownloadError(f"server answered a range request with {resp.headers.get('Content-Range')!r}")
        return int(m.group(3))
    length = resp.headers.get("Content-Length")
    return int(length) if length is not None else None


def sha256sum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(
    url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0, progress: bool = True
) -> Path:
    """Fetch ``url`` to ``dest``, resuming a previous ``dest.part``; verify size and hash."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the part file is already complete
            resp = None
        else:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}: {err.reason}") from None
    total = offset
    if resp is not None:
        with resp:
            if resp.status == 200 and offset:
                log.info("%s: server ignored the range request, starting over", url)
                offset = 0
            total = _total_size(resp, offset)
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name)
            with open(part, "ab" if offset else "wb") as fh:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    fh.write(block)
                    if bar is not None:
                        bar.update(len(block))
            if bar is not None:
                bar.close()
    got = part.stat().st_size
    if total is not None and got != total:
        raise DownloadError(f"{url}: got {got} bytes, the server announced {total}; run again to resume")
    if sha256 is not None:
        digest = sha256sum(part)
        if digest != sha256:
            part.unlink()
            raise DownloadError(f"{url}: SHA-256 {digest} does not match the configured {sha256}")
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes)", dest, got)
    return dest


def _check_member(info: zipfile.ZipInfo, root: Path) -> Path:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DownloadError(f"unsafe archive member {name!r}: symbolic link")
    if (
        name.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", name)
        or ".." in Path(name).parts
        or ".." in name.replace("\\", "/").split("/")
    ):
        raise DownloadError(f"unsafe archive member {name!r}: absolute path or '..'")
    target = (root / name).resolve()
    if root != target and root not in target.parents:
        raise DownloadError(f"unsafe archive member {name!r}: would extract outside {root}")
    return target


def safe_extract(archive: str | Path, dest_dir: str | Path) -> list[Path]:
    """Extract a zip into ``dest_dir`` after checking every member; verifies CRCs as it goes."""
    root = Path(dest_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(archive) as zf:
        members = [(info, _check_member(info, root)) for info in zf.infolist()]  # check all first
        for info, target in members:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.part")
            with zf.open(info) as src, open(tmp, "wb") as dst:  # zf.open checks the CRC at EOF
                shutil.copyfileobj(src, dst, CHUNK)
            os.replace(tmp, target)
            written.append(target)
    return written


def fetch_isic2019(
    base_url: str,
    images_dir: str | Path,
    ground_truth: str | Path,
    metadata: str | Path | None,
    sha256: dict[str, str],
) -> None:
    """Download and unpack the ISIC 2019 training set into the configured paths."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    images_dir = Path(images_dir)
    for key, dest in (("ground_truth", ground_truth), ("metadata", metadata)):
        if dest is not None and not Path(dest).exists():
            name = ISIC2019_FILES[key]
            download(base + name, dest, sha256.get(name))
    if not images_dir.is_dir():
        name = ISIC2019_FILES["images"]
        archive = images_dir.parent / name
        if not archive.exists():
            download(base + name, archive, sha256.get(name))
        staging = images_dir.parent / f".{images_dir.name}.extracting"
        shutil.rmtree(staging, ignore_errors=True)
        safe_extract(archive, staging)
        # the archive holds one top folder named like the images folder; accept a flat one too
        inner = staging / images_dir.name
        os.replace(inner if inner.is_dir() else staging, images_dir)
        shutil.rmtree(staging, ignore_errors=True)
        log.info("extracted %s to %s", archive, images_dir)


def download_rule(base_url: str, sha256: dict[str, str], nothing_to_fetch: str | None) -> None:
    """The rule download_isic2019: fetch what is missing into the workflow's own folder, or say
    why there is nothing to fetch (the rule then has no output)."""
    if nothing_to_fetch:
        log.info("nothing to download: %s", nothing_to_fetch)
        return
    owned = download_layout()  # files already there are skipped
    fetch_isic2019(base_url, owned["images"], owned["ground_truth"], owned["metadata"], dict(sha256))
