"""The review page in a real headless Chromium: score two images with the keyboard, export, and
feed the exports of three reviewers to the ingestion step."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from ganaug.curation.review import aggregate, read_review_files, write_review_sheet

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("GANAUG_REQUIRE_BROWSER") != "1",
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
)

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def sheet(tmp_path) -> tuple[Path, list[str]]:
    raw = tmp_path / "raw"
    raw.mkdir()
    names = ["generated_0000.png", "generated_0001.png"]
    rng = np.random.default_rng(0)
    for n in names:
        cv2.imwrite(str(raw / n), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    page = write_review_sheet({n: raw / n for n in names}, tmp_path / "review", page_id="test")
    return page, names


def review_in_browser(page_path: Path, reviewer: str, keys: list[str], out_dir: Path, profile: Path) -> Path:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, headless=True, accept_downloads=True
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.fill("#reviewer", reviewer)
            page.press("#reviewer", "Enter")
            page.locator("body").click(position={"x": 5, "y": 5})
            for key in keys:
                page.keyboard.press(key)
            assert page.inner_text("#progress") == "2 / 2 complete"
            with page.expect_download() as dl:
                page.keyboard.press("e")
            target = out_dir / f"{reviewer}.csv"
            dl.value.save_as(str(target))
            assert errors == []
            # progress survives a reload (saved in the browser). Chromium hands localStorage writes
            # from the page to its storage process asynchronously, so a reload a few milliseconds
            # after the last key can still read the old map (seen once in CI); a person never
            # reloads that fast. Allow the commit up to 5 s, then require the saved progress.
            seen = []
            for _ in range(20):
                page.reload()
                seen.append(page.inner_text("#progress"))
                if seen[-1] == "2 / 2 complete":
                    break
                page.wait_for_timeout(250)
            assert seen[-1] == "2 / 2 complete", seen
        finally:
            browser.close()
    return target


def test_score_export_and_ingest(sheet, tmp_path):
    page, names = sheet
    exports = tmp_path / "reviews"
    exports.mkdir()
    files = []
    plans = {
        # five criteria per image; after the last criterion the page moves to the next image
        "ann": ["5", "4", "4", "5", "5", "2", "2", "1", "2", "3"],
        "bob": ["4", "4", "4", "4", "4", "3", "2", "2", "2", "2"],
        # uses the arrows: score image 2 first, then come back to image 1; a name a spreadsheet
        # would run as a formula
        "-cy": ["ArrowRight", "1", "2", "2", "2", "1", "ArrowLeft", "5", "5", "5", "5", "4"],
    }
    for who, keys in plans.items():
        files.append(review_in_browser(page, who, keys, exports, tmp_path / f"profile-{who}"))
    text = files[0].read_text().splitlines()
    assert text == [
        "reviewer,image,realism,color,texture,boundary,artifacts",
        "ann,generated_0000.png,5,4,4,5,5",
        "ann,generated_0001.png,2,2,1,2,3",
    ]
    # the export neutralises a cell that starts like a formula: a spreadsheet shows it as text
    assert files[2].read_text().splitlines()[1].startswith("'-cy,generated_0000.png,")
    t = aggregate(read_review_files(files, names, reviewers=3), names, threshold=3.5, mode="files")
    scores = dict(zip(t.image, t.score, strict=True))
    assert scores["generated_0000.png"] == pytest.approx((23 + 20 + 24) / 15)
    assert scores["generated_0001.png"] == pytest.approx((10 + 11 + 8) / 15)
    assert t.kept.tolist() == [True, False]
