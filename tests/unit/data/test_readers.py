"""Each reader on fixture files of its format, label normalisation and the format errors."""

from __future__ import annotations

import pandas as pd
import pytest

from ganaug.data.ingest import ingest, select_classes
from ganaug.data.labels import normalise_label
from ganaug.data.readers.common import LABEL_COLUMNS, DataFormatError
from ganaug.data.readers.ham10000 import read_ham10000
from ganaug.data.readers.isic2019 import read_isic2019
from ganaug.data.readers.isic2020 import read_isic2020
from ganaug.data.readers.isic_archive import read_isic_archive


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("DF", "dermatofibroma"),
        ("df", "dermatofibroma"),
        ("dermatofibroma", "dermatofibroma"),
        ("Dermatofibroma", "dermatofibroma"),
        (" Dermatofibroma ", "dermatofibroma"),
        ("NV", "nevus"),
        ("nv", "nevus"),
        ("nevus", "nevus"),
        ("Nevus", "nevus"),
        ("MEL", "melanoma"),
        ("BCC", "basal_cell_carcinoma"),
        ("akiec", "actinic_keratosis"),
        ("AK", "actinic_keratosis"),
        ("BKL", "benign_keratosis"),
        ("Pigmented benign keratosis", "benign_keratosis"),
        ("VASC", "vascular_lesion"),
        ("SCC", "squamous_cell_carcinoma"),
        ("UNK", "unknown"),
        ("lentigo NOS", "lentigo_nos"),
        ("cafe-au-lait macule", "cafe_au_lait_macule"),
    ],
)
def test_normalise_label(raw, want):
    assert normalise_label(raw) == want


def test_isic2019(fixtures):
    df = read_isic2019(fixtures / "isic2019_gt.csv", fixtures / "isic2019_meta.csv")
    assert list(df.columns) == LABEL_COLUMNS
    assert len(df) == 10
    labels = dict(zip(df.image_id, df.label, strict=True))
    assert labels["ISIC_0000003"] == "dermatofibroma"
    assert labels["ISIC_0000000"] == "nevus"
    assert labels["ISIC_0000006_downsampled"] == "actinic_keratosis"
    assert sorted(df.label.unique()) == sorted(
        [
            "nevus",
            "melanoma",
            "dermatofibroma",
            "basal_cell_carcinoma",
            "actinic_keratosis",
            "benign_keratosis",
            "vascular_lesion",
            "squamous_cell_carcinoma",
        ]
    )
    lesions = dict(zip(df.image_id, df.lesion_id, strict=True))
    assert lesions["ISIC_0000000"] == lesions["ISIC_0000001"] == "BCN_0000001"
    assert lesions["ISIC_0000004"] == ""  # missing lesion ids stay empty, not 'nan'
    assert (df.patient_id == "").all()
    assert df.row.tolist() == list(range(2, 12))


def test_isic2019_without_metadata(fixtures):
    df = read_isic2019(fixtures / "isic2019_gt.csv", None)
    assert (df.lesion_id == "").all()


def test_isic2019_two_hot_row_is_an_error(tmp_path, fixtures):
    text = (fixtures / "isic2019_gt.csv").read_text().splitlines()
    text[3] = "ISIC_0000002,1.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"
    p = tmp_path / "gt.csv"
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(DataFormatError, match=r"gt.csv, row 4: expected exactly one class column"):
        read_isic2019(p)


def test_missing_column_names_file_and_columns(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text("image,MEL,NV\nISIC_1,1.0,0.0\n")
    with pytest.raises(DataFormatError, match=r"gt.csv: missing column\(s\) BCC, AK"):
        read_isic2019(p)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv"):
        read_ham10000(tmp_path / "nothere.csv")


def test_isic2020(fixtures):
    df = read_isic2020(fixtures / "isic2020_gt.csv")
    assert "dermatofibroma" not in set(df.label)
    assert set(df.label) >= {"nevus", "melanoma", "unknown", "seborrheic_keratosis", "lentigo_nos"}
    row = df[df.image_id == "ISIC_0052212"].iloc[0]
    assert (row.patient_id, row.lesion_id) == ("IP_2842074", "IL_9087444")


@pytest.mark.parametrize("minority", ["dermatofibroma", "DF", "df", "Dermatofibroma"])
def test_isic2020_refuses_dermatofibroma(fixtures, minority):
    with pytest.raises(DataFormatError) as err:
        ingest("isic2020", fixtures / "isic2020_gt.csv", None, minority, "nevus")
    assert "ISIC 2020 contains no dermatofibroma" in str(err.value)
    assert "isic2019" in str(err.value)


def test_isic2020_other_classes(fixtures):
    df, _ = ingest("isic2020", fixtures / "isic2020_gt.csv", None, "melanoma", "nevus")
    assert sorted(df.label.value_counts().items()) == [("melanoma", 1), ("nevus", 3)]


def test_ham10000(fixtures):
    df = read_ham10000(fixtures / "ham10000_gt.csv")
    assert (df[df.image_id == "ISIC_0026769"].label == "dermatofibroma").all()
    assert df.loc[df.image_id == "ISIC_0025837", "label"].item() == "actinic_keratosis"
    both = df[df.lesion_id == "HAM_0002730"]
    assert len(both) == 2 and set(both.label) == {"dermatofibroma"}
    sel, _ = ingest("ham10000", fixtures / "ham10000_gt.csv", None, "dermatofibroma", "nevus")
    assert sel.label.value_counts().to_dict() == {"dermatofibroma": 2, "nevus": 2}


def test_isic_archive(fixtures):
    df = read_isic_archive(fixtures / "isic_archive.csv")
    labels = dict(zip(df.image_id, df.label, strict=True))
    assert labels["ISIC_9000001"] == "dermatofibroma"  # diagnosis_3
    assert labels["ISIC_9000002"] == "nevus"
    assert labels["ISIC_9000003"] == "nevus"  # legacy diagnosis
    assert labels["ISIC_9000004"] == "dermatofibroma"
    assert labels["ISIC_9000005"] == "melanoma"
    assert labels["ISIC_9000006"] == "unknown"  # only benign/malignant given
    assert labels["ISIC_9000007"] == "benign_keratosis"
    assert df.loc[df.image_id == "ISIC_9000002", "patient_id"].item() == "IP_0000001"


def test_archive_without_any_diagnosis_column(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("isic_id,diagnosis_1\nISIC_1,Benign\n")
    with pytest.raises(DataFormatError, match="diagnosis_3"):
        read_isic_archive(p)


def test_select_classes_requires_both(fixtures):
    labels = pd.DataFrame(
        {
            "image_id": ["a", "b"],
            "label": ["nevus", "melanoma"],
            "lesion_id": "",
            "patient_id": "",
            "row": [2, 3],
        }
    )
    with pytest.raises(DataFormatError, match=r"no image labelled 'dermatofibroma' \(data.minority\)"):
        select_classes(labels, "isic2019", "dermatofibroma", "nevus", "gt.csv")


def test_ingest_selects_only_the_two_classes(fixtures):
    df, _ = ingest("isic2019", fixtures / "isic2019_gt.csv", fixtures / "isic2019_meta.csv", "DF", "NV")
    assert sorted(df.image_id) == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000003", "ISIC_0000004"]


def test_empty_image_id_is_an_error(tmp_path):
    p = tmp_path / "ham.csv"
    p.write_text("lesion_id,image_id,dx\nHAM_1,,df\n")
    with pytest.raises(DataFormatError, match="row 2: empty image id"):
        read_ham10000(p)


def test_derm7pt_in_its_real_column_layout(fixtures):
    """meta/meta.csv as Derm7pt ships it: one row per case, the dermoscopic image in ``derm``."""
    from ganaug.data.readers.derm7pt import read_derm7pt

    df = read_derm7pt(fixtures / "derm7pt/meta/meta.csv")
    assert list(df.columns) == LABEL_COLUMNS
    assert df["image_id"].tolist()[:3] == ["NEL_Nel026", "NEL_Nel028", "Fdl_Fdl002"]
    assert df["file"].tolist()[9] == "Fbl/Fbl016.JPG"  # the file keeps its own spelling
    assert df["lesion_id"].tolist()[2] == "derm7pt_case_3" and (df["patient_id"] == "").all()
    counts = df["label"].value_counts().to_dict()
    # every nevus subtype counts as nevus by default; melanoma and the rest keep their names
    assert counts == {"nevus": 5, "dermatofibroma": 2, "basal_cell_carcinoma": 1,
                      "melanoma_(in_situ)": 1, "lentigo": 1}  # fmt: skip


def test_derm7pt_nevus_subtypes_are_a_choice(fixtures):
    from ganaug.data.readers.derm7pt import read_derm7pt

    df = read_derm7pt(fixtures / "derm7pt/meta/meta.csv", nevus_subtypes=("clark nevus", "dermal nevus"))
    assert sorted(df.loc[df["label"] == "nevus", "image_id"]) == ["Fcl_Fcl010", "NEL_Nel028"]
    assert "blue_nevus" in set(df["label"]) and "reed_or_spitz_nevus" in set(df["label"])
    with pytest.raises(ValueError, match="'spitz' are not Derm7pt diagnoses"):
        read_derm7pt(fixtures / "derm7pt/meta/meta.csv", nevus_subtypes=("spitz",))


def test_derm7pt_without_the_derm_column_names_what_is_missing(tmp_path, fixtures):
    from ganaug.data.readers.derm7pt import read_derm7pt

    text = (fixtures / "derm7pt/meta/meta.csv").read_text().replace(",derm,", ",dermoscopy,")
    (tmp_path / "meta.csv").write_text(text)
    with pytest.raises(DataFormatError, match=r"missing column\(s\) derm;"):
        read_derm7pt(tmp_path / "meta.csv")
