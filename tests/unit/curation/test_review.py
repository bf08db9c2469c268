"""Review ingestion: the reviewers' exports as browsers and spreadsheets write them, every malformed file refused with its file and row, the simulated stand-in, and tables neutralised for spreadsheets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ganaug.curation.review import COLUMNS, ReviewError, aggregate, read_review_files, simulate_scores

CANDS = ["generated_0000.png", "generated_0001.png", "generated_0002.png"]


def review_file(path: Path, reviewer: str, rows: list[list], header: list[str] = COLUMNS) -> Path:
    lines = [",".join(header)] + [",".join(map(str, [reviewer, *r])) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_files(tmp: Path) -> list[Path]:
    return [
        review_file(tmp / f"{who}.csv", who, [[c, 4, 4, 4, 4, 4 - k] for c in CANDS])
        for k, who in enumerate(["ann", "bob", "cy"])
    ]


def test_good_reviews_are_averaged(tmp_path):
    scores = read_review_files(good_files(tmp_path), CANDS, reviewers=3)
    t = aggregate(scores, CANDS, threshold=3.5, mode="files")
    # artifacts 4, 3, 2 -> 3; the others 4: score (4 * 4 + 3) / 5 = 3.8
    assert t.score.tolist() == pytest.approx([3.8] * 3)
    assert t.artifacts.tolist() == pytest.approx([3.0] * 3)
    assert t.kept.all() and (t.n_reviewers == 3).all() and (t.review_mode == "files").all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: review_file(f[0], "ann", [["generated_9999.png", 4, 4, 4, 4, 4]]), r"ann.csv, row 2: unknown image 'generated_9999.png'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 6, 4, 4, 4, 4]]), r"ann.csv, row 2: realism must be an integer from 1 to 5, got '6'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 0, 4, 4, 4]]), r"row 2: color must be an integer from 1 to 5, got '0'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 3.5, 4, 4]]), r"row 2: texture must be an integer from 1 to 5, got '3.5'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 4, "", 4]]), r"row 2: boundary must be an integer"),
        (lambda f: review_file(f[0], "ann", [[c, 4, 4, 4, 4, 4] for c in [*CANDS, CANDS[1]]]), r"ann.csv, row 5: duplicate row, ann already scored generated_0001.png \(.*ann.csv, row 3\)"),
        (lambda f: f[2].unlink(), r"expected 3 reviewers, found 2: ann, bob"),
        (lambda f: [review_file(x, n, [[c, 4, 4, 4, 4, 4] for c in CANDS[:2]]) for x, n in zip(f, ["ann", "bob", "cy"], strict=True)], r"1 candidate image\(s\) scored by nobody, e.g. generated_0002.png"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 4, 4]], header=COLUMNS[:-1]), r"ann.csv: header must be reviewer,image,realism,color,texture,boundary,artifacts"),
        (lambda f: f[0].write_text(f[0].read_text() + "zed,generated_0000.png,4,4,4,4,4\n"), r"ann.csv: one file per reviewer expected, found ann, zed"),
        (lambda f: review_file(f[0], "", [[CANDS[0], 4, 4, 4, 4, 4]]), r"ann.csv, row 2: empty reviewer name"),
    ],
    ids=["unknown-image", "score-6", "score-0", "score-fraction", "score-empty", "duplicate", "missing-reviewer",
         "unscored-image", "bad-header", "two-reviewers", "empty-reviewer"],
)  # fmt: skip
def test_bad_review_files_name_file_and_row(tmp_path, mutate, message):
    files = good_files(tmp_path)
    mutate(files)
    with pytest.raises(ReviewError, match=message):
        read_review_files([f for f in files if f.exists()], CANDS, reviewers=3)


def spreadsheet_export(path: Path, reviewer: str, rows: list[list], sep: str = ";") -> Path:
    """As a spreadsheet saves a CSV: UTF-8 with a BOM, CRLF, every field quoted, ';' between."""
    lines = [sep.join(f'"{c}"' for c in COLUMNS)]
    lines += [sep.join(f'"{c}"' for c in [reviewer, *r]) for r in rows]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    return path


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_spreadsheet_exports_are_read(tmp_path, sep):
    files = good_files(tmp_path)
    spreadsheet_export(files[1], "bob", [[c, 4, "4.0", "4,0" if sep != "," else 4, 4, 3] for c in CANDS], sep)
    spreadsheet_export(files[2], "Cy; Smith", [[c, 4, 4, 4, 4, 2] for c in CANDS], sep)
    t = aggregate(read_review_files(files, CANDS, reviewers=3), CANDS, threshold=3.5, mode="files")
    assert t.score.tolist() == pytest.approx([3.8] * 3)
    assert set(read_review_files(files, CANDS, 3).reviewer) == {"ann", "bob", "Cy; Smith"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"reviewer;image;realism;color;texture;boundary;artifacts\r\nann;generated_0000.png;4;4\r\n",
         r"ann.csv, row 2: 4 fields, the header has 7"),
        (b"reviewer,image,realism,color,texture,boundary,artifacts\nann,generated_0000.png,4,4,4,4,4.5\n",
         r"ann.csv, row 2: artifacts must be an integer from 1 to 5, got '4.5'"),
        (b'reviewer,image,realism,color,texture,boundary,artifacts\nann,"generated_0000.png,4,4,4,4,4\n',
         r"ann.csv, row \d+: .*"),
        ("reviewer,image,realism,color,texture,boundary,artifacts\nAnné,generated_0000.png,4,4,4,4,4\n".encode("latin-1"),
         r"ann.csv: not UTF-8 text \(byte \d+\); save it as 'CSV UTF-8'"),
        (b"", r"ann.csv: empty file; expected the header reviewer,image"),
    ],
    ids=["ragged-row", "fraction", "open-quote", "latin-1", "empty"],
)  # fmt: skip
def test_malformed_exports_name_file_row_and_expectation(tmp_path, content, message):
    files = good_files(tmp_path)
    files[0].write_bytes(content)
    with pytest.raises(ReviewError, match=message):
        read_review_files(files, CANDS, reviewers=3)


def test_tables_for_spreadsheets_neutralise_formulas(tmp_path):
    from ganaug.io import write_csv

    df = pd.DataFrame({"image_id": ["=HYPERLINK(1)", "+1", "-x", "@sum", "ISIC_1"], "n": [1, 2, 3, 4, 5]})
    write_csv(df, tmp_path / "t.csv", for_spreadsheets=True)
    got = pd.read_csv(tmp_path / "t.csv")
    assert got.image_id.tolist() == ["'=HYPERLINK(1)", "'+1", "'-x", "'@sum", "ISIC_1"]
    assert got.n.tolist() == [1, 2, 3, 4, 5]
    write_csv(df, tmp_path / "data.csv")  # a table the workflow reads back keeps its ids verbatim
    assert pd.read_csv(tmp_path / "data.csv").image_id.tolist() == df.image_id.tolist()


def test_simulated_scores_are_labelled_and_deterministic():
    proxy = pd.DataFrame(
        {"image": CANDS, "laplacian_var": [50.0, 500.0, 5000.0], "max_ssim": [0.3, 0.5, 0.7]}
    )
    a = simulate_scores(proxy, 3, 0.6, seed=42)
    b = simulate_scores(proxy, 3, 0.6, seed=42)
    assert a.equals(b) and sorted(a.reviewer.unique()) == ["simulated_1", "simulated_2", "simulated_3"]
    assert a[list(COLUMNS[2:])].isin([1, 2, 3, 4, 5]).all().all()
    t = aggregate(a, CANDS, 3.5, "simulate")
    assert (t.review_mode == "simulate").all()
    assert t.score.iloc[2] > t.score.iloc[0]  # sharper and more lesion-like scores higher
