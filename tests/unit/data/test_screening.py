"""Duplicate, conflicting and unsafe rows of the label files: kept once, rejected, or refused,
each with its reason, and never fatal by themselves."""

from __future__ import annotations

import pandas as pd

from ganaug.data.ingest import ingest
from ganaug.data.screening import lost_fraction, screen_rows

ISIC_HEADER = "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\n"

DF_ROW = "0,0,0,0,0,1,0,0,0\n"

NV_ROW = "0,1,0,0,0,0,0,0,0\n"

MEL_ROW = "1,0,0,0,0,0,0,0,0\n"


def table(rows: list[tuple]) -> pd.DataFrame:
    """(image_id, label, lesion_id) rows in reader form."""
    return pd.DataFrame(
        {
            "image_id": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "lesion_id": [r[2] if len(r) > 2 else "" for r in rows],
            "patient_id": "",
            "row": range(2, len(rows) + 2),
            "problem": "",
            "note": "",
        }
    )


def test_exact_repeat_is_kept_once_and_listed():
    kept, rejects = screen_rows(table([("a", "nevus", "L1"), ("b", "nevus"), ("a", "nevus", "L1")]))
    assert kept.image_id.tolist() == ["a", "b"]
    assert kept.row.tolist() == [2, 3]
    assert rejects.values.tolist() == [["a", "row 4 repeats row 2 exactly: kept once"]]


def test_conflicting_labels_reject_every_row():
    kept, rejects = screen_rows(table([("a", "nevus"), ("c", "nevus"), ("a", "dermatofibroma")]))
    assert kept.image_id.tolist() == ["c"]
    assert rejects.image_id.tolist() == ["a", "a"]
    assert rejects.reason.tolist() == [
        "row 2: one id with conflicting labels (dermatofibroma, nevus) in rows 2, 4: all rejected",
        "row 4: one id with conflicting labels (dermatofibroma, nevus) in rows 2, 4: all rejected",
    ]


def test_same_label_but_two_lesions_rejects_every_row():
    kept, rejects = screen_rows(table([("a", "nevus", "L1"), ("a", "nevus", "L2")]))
    assert kept.empty
    assert all("conflicting lesion or patient ids in rows 2, 3" in r for r in rejects.reason)


def test_unsafe_ids_are_refused():
    kept, rejects = screen_rows(
        table([("../evil", "nevus"), ("x/y", "nevus"), ("..", "nevus"), ("d\\e", "nevus")])
    )
    assert kept.empty
    assert all("unsafe image id" in r for r in rejects.reason) and len(rejects) == 4


def test_lost_fraction_counts_images_not_rows():
    rejects = pd.DataFrame({"image_id": ["a", "x", "x"], "reason": ["kept once", "conflict", "conflict"]})
    assert lost_fraction(pd.Series(["a", "b", "c"]), rejects) == (1, 4, 0.25)


def write_isic(tmp, gt_rows: list[str], meta_rows: list[str]):
    gt = tmp / "gt.csv"
    gt.write_text(ISIC_HEADER + "".join(gt_rows))
    meta = tmp / "meta.csv"
    meta.write_text("image,age_approx,anatom_site_general,lesion_id,sex\n" + "".join(meta_rows))
    return gt, meta


def test_an_exact_duplicate_row_in_ground_truth_and_metadata_is_not_fatal(tmp_path):
    """The case real ISIC exports contain: one image listed twice, identically, in both files.
    It used to stop the whole run with 'listed twice'."""
    gt, meta = write_isic(
        tmp_path,
        ["I1," + DF_ROW, "I2," + NV_ROW, "I1," + DF_ROW],
        ["I1,50,torso,L1,male\n", "I2,40,torso,L2,female\n", "I1,50,torso,L1,male\n"],
    )
    labels, rejects = ingest("isic2019", gt, meta, "dermatofibroma", "nevus")
    assert labels.image_id.tolist() == ["I1", "I2"]
    assert labels.set_index("image_id").lesion_id.to_dict() == {"I1": "L1", "I2": "L2"}
    assert rejects.image_id.tolist() == ["I1", "I1"]
    assert all(r.endswith("kept once") for r in rejects.reason)
    assert "rows 2, 4 list this image identically" in rejects.reason.iloc[1]


def test_metadata_with_two_lesion_ids_rejects_the_image(tmp_path):
    gt, meta = write_isic(
        tmp_path,
        ["I1," + DF_ROW, "I2," + NV_ROW, "I3," + DF_ROW],
        ["I1,50,torso,L1,male\n", "I2,4,t,L2,f\n", "I1,50,torso,L9,male\n", "I3,4,t,L3,f\n"],
    )
    labels, rejects = ingest("isic2019", gt, meta, "dermatofibroma", "nevus")
    assert labels.image_id.tolist() == ["I2", "I3"]
    assert rejects.values.tolist() == [
        ["I1", f"{meta}: rows 2, 4 give this image different lesion or patient ids"]
    ]


def test_a_conflict_with_a_third_class_is_still_a_conflict(tmp_path):
    """Screening happens before the two classes are selected: DF in one row and melanoma in
    another is a conflict, not a DF image."""
    gt, meta = write_isic(
        tmp_path,
        ["I1," + DF_ROW, "I2," + NV_ROW, "I3," + DF_ROW, "I1," + MEL_ROW],
        ["I1,1,t,L1,m\n", "I2,1,t,L2,m\n", "I3,1,t,L3,m\n"],
    )
    labels, rejects = ingest("isic2019", gt, meta, "dermatofibroma", "nevus")
    assert labels.image_id.tolist() == ["I2", "I3"]
    assert set(rejects.image_id) == {"I1"} and len(rejects) == 2
