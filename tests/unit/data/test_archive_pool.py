"""The Archive pool for the real_extra control, fetched by isic-cli: the command that is run, a
failed or partial download (kept, and resumed by fetching only the rest), and the reading of
exactly what isic-cli writes (tests/fixtures/isic_cli_export), offline, with a stand-in `isic`
executable that behaves as isic-cli 12.x does (it skips a file already there with its size)."""

import json
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganaug.data.archive_pool import fetch_archive_pool, isic_command, missing_images, pool_labels
from ganaug.data.download import DownloadError
from ganaug.data.external import extra_minority_rule

EXPORT = Path(__file__).parents[2] / "fixtures" / "isic_cli_export"
SEARCH = 'diagnosis_3:"Dermatofibroma" AND image_type:dermoscopic'

FAKE = r'''#!PYTHON
"""Stand-in for isic-cli's `isic image download [--search S] [--limit N] OUTDIR`."""
import json, os, shutil, sys
from pathlib import Path
args = sys.argv[1:]
calls = Path(os.environ["FAKE_ISIC_CALLS"])
calls.write_text(calls.read_text() + json.dumps(args) + "\n" if calls.exists() else json.dumps(args) + "\n")
assert args[:2] == ["image", "download"], args
out = Path(args[-1]); out.mkdir(parents=True, exist_ok=True)
src = Path(os.environ["FAKE_ISIC_EXPORT"])
ids = [l.split(",")[0] for l in (src / "metadata.csv").read_text().splitlines()[1:]]
mode = os.environ.get("FAKE_ISIC_MODE", "ok")
wrote = []
for k, i in enumerate(ids):
    if mode == "fail" and k == len(ids) // 2:
        sys.exit("network error")  # isic-cli writes metadata.csv only after every image
    if mode == "lose_one" and k == 0:
        continue
    dest, data = out / f"{i}.jpg", (src / "images" / f"{i}.jpg").read_bytes()
    if dest.exists() and dest.stat().st_size == len(data):
        continue  # as isic-cli: same name and size, not fetched again
    dest.write_bytes(data); wrote.append(i)
shutil.copy(src / "metadata.csv", out / "metadata.csv")
shutil.copy(src / "attribution.txt", out / "attribution.txt")
shutil.copytree(src / "licenses", out / "licenses", dirs_exist_ok=True)
Path(os.environ["FAKE_ISIC_WROTE"]).write_text("\n".join(wrote))
'''


@pytest.fixture
def fake_isic(tmp_path, monkeypatch):
    export = tmp_path / "server"
    shutil.copytree(EXPORT, export)
    (export / "images").mkdir()
    rng = np.random.default_rng(7)
    ids = pd.read_csv(EXPORT / "metadata.csv", dtype=str)["isic_id"]
    for i in ids:  # a small photograph per image, with a lesion-like dark blob
        img = np.full((96, 128, 3), 200, np.uint8) + rng.integers(0, 20, (96, 128, 3), dtype=np.uint8)
        y, x = rng.integers(30, 60), rng.integers(40, 80)
        img[y - 15 : y + 15, x - 20 : x + 20] = rng.integers(60, 120, 3, dtype=np.uint8)
        Image.fromarray(img).save(export / "images" / f"{i}.jpg", quality=90)
    exe = tmp_path / "bin" / "isic"
    exe.parent.mkdir()
    exe.write_text(FAKE.replace("PYTHON", sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_ISIC_EXPORT", str(export))
    monkeypatch.setenv("FAKE_ISIC_CALLS", str(tmp_path / "calls.txt"))
    monkeypatch.setenv("FAKE_ISIC_WROTE", str(tmp_path / "wrote.txt"))
    return exe, tmp_path


def calls(tmp_path):
    return [json.loads(line) for line in (tmp_path / "calls.txt").read_text().splitlines()]


def test_the_command_is_isic_clis_image_download():
    assert isic_command(SEARCH, "out/images") == [
        "isic",
        "image",
        "download",
        "--search",
        SEARCH,
        "out/images",
    ]
    assert isic_command(SEARCH, "o", limit=50)[-3:] == ["--limit", "50", "o"]


def test_a_complete_download_lands_in_place(fake_isic):
    exe, tmp = fake_isic
    dest = tmp / "owned" / "images"
    fetch_archive_pool(SEARCH, dest, executable=str(exe))
    assert calls(tmp) == [["image", "download", "--search", SEARCH, str(dest) + ".part"]]
    assert (dest / "metadata.csv").is_file() and (dest / "attribution.txt").is_file()
    assert not missing_images(dest) and not Path(str(dest) + ".part").exists()
    with pytest.raises(DownloadError, match="never replaces a completed download"):
        fetch_archive_pool(SEARCH, dest, executable=str(exe))


def test_a_failed_download_keeps_what_it_fetched_and_the_rerun_fetches_only_the_rest(fake_isic, monkeypatch):
    exe, tmp = fake_isic
    dest = tmp / "owned" / "images"
    monkeypatch.setenv("FAKE_ISIC_MODE", "fail")
    with pytest.raises(DownloadError, match=r"isic-cli failed \(exit 1\).*fetch only the rest"):
        fetch_archive_pool(SEARCH, dest, executable=str(exe))
    part = Path(str(dest) + ".part")
    fetched = sorted(p.stem for p in part.glob("*.jpg"))
    assert len(fetched) == 16 and not dest.exists()
    monkeypatch.setenv("FAKE_ISIC_MODE", "ok")
    fetch_archive_pool(SEARCH, dest, executable=str(exe))
    wrote = (tmp / "wrote.txt").read_text().split()
    assert len(wrote) == 16 and not set(wrote) & set(fetched)  # only the rest
    assert not missing_images(dest)


def test_an_export_missing_an_image_is_not_accepted(fake_isic, monkeypatch):
    exe, tmp = fake_isic
    monkeypatch.setenv("FAKE_ISIC_MODE", "lose_one")
    with pytest.raises(
        DownloadError, match=r"lists 1 image\(s\) that were not downloaded \(first: ISIC_0100001\)"
    ):
        fetch_archive_pool(SEARCH, tmp / "owned" / "images", executable=str(exe))


def test_no_isic_cli_says_how_to_get_it(tmp_path):
    with pytest.raises(DownloadError, match=r"isic-cli.*is not installed"):
        fetch_archive_pool(SEARCH, tmp_path / "images", executable="isic-not-installed-here")


def test_the_pool_reads_isic_clis_layout_and_drops_what_the_archive_holds(fake_isic):
    exe, tmp = fake_isic
    dest = tmp / "owned" / "images"
    fetch_archive_pool(SEARCH, dest, executable=str(exe))
    kept, left_out = pool_labels(dest, "dermatofibroma")
    # the dermoscopic DF of the export; the clinical, TBP, RCM, blank-type, synthetic and altered
    # DF and every other diagnosis are left out, each with its reason
    assert sorted(kept["image_id"]) == [f"ISIC_01000{i:02d}" for i in range(1, 6)]
    assert len(left_out) == 32 - 5 and left_out["reason"].str.contains(r"metadata.csv row \d+").all()
    assert set(kept["file"]) == {f"{i}.jpg" for i in kept["image_id"]}
    # the training archive holds ISIC_0100002 under its own lesion namespace (ISIC 2019's HAM_...),
    # and lesion IL_0000103 (ISIC_0100004's)
    archive_dir = tmp / "archive"
    archive_dir.mkdir()
    rows = []
    for k, (iid, les) in enumerate([("ISIC_0100002", "HAM_0000900"), ("ISIC_9", "IL_0000103")]):
        p = archive_dir / f"{iid}.png"
        Image.fromarray(np.full((32, 32, 3), 40 * k, np.uint8)).save(p)
        rows.append({"image_id": iid, "path": str(p), "lesion_id": les, "label": "dermatofibroma"})
    pd.DataFrame(rows).to_csv(tmp / "archive.csv", index=False)
    o = {k: tmp / "extra" / k for k in ("images", "metadata.csv", "overlap.csv", "rejects.csv")}
    (tmp / "extra").mkdir()
    extra_minority_rule(dest, tmp / "archive.csv", o["images"], o["metadata.csv"], o["overlap.csv"],
                         o["rejects.csv"], "dermatofibroma", 64, True, 0.5)  # fmt: skip
    overlap = pd.read_csv(o["overlap.csv"], dtype=str, keep_default_na=False).set_index("image_id")
    assert overlap.loc["ISIC_0100002", "reason"] == "same image id as an archive image"
    assert overlap.loc["ISIC_0100004", "reason"] == "same lesion id (IL_0000103) as an archive image"
    # another photograph of ISIC_0100002's lesion, matched through the image both hold: a leak
    # that lesion ids alone miss, since the two archives name lesions differently
    assert (
        overlap.loc["ISIC_0100001", "reason"]
        == "same lesion (IL_0000101) as ISIC_0100002, which the archive holds"
    )
    assert overlap.loc["ISIC_0100001", "archive_image_id"] == "ISIC_0100002"
    meta = pd.read_csv(o["metadata.csv"], dtype=str, keep_default_na=False)
    assert sorted(meta["image_id"]) == ["ISIC_0100003", "ISIC_0100005"]
    assert set(meta["split"]) == {"extra"}
    rejects = pd.read_csv(o["rejects.csv"], dtype=str, keep_default_na=False)
    assert len(rejects) == 27  # every left-out row of the export, with its reason
