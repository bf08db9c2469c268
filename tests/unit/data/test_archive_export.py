"""An ISIC Archive export exactly as isic-cli 12.x writes it (tests/fixtures/isic_cli_export):
metadata.csv inside the image folder, CRLF line ends, the fields no image has left out, the
Archive's diagnosis hierarchy at levels 1-5, every image type and manipulation of isic-metadata's
vocabulary, blank fields and look-alike diagnoses."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ganaug.data.inclusion import EXCLUDED, IMAGE_TYPES, Inclusion, summarise_exclusions
from ganaug.data.ingest import ingest
from ganaug.data.readers.common import DataFormatError
from ganaug.data.readers.isic_archive import read_isic_archive
from ganaug.data.screening import lost_fraction
from ganaug.data.sources import archive_metadata_default
from ganaug.data.splits import lesion_groups

EXPORT = Path(__file__).parents[2] / "fixtures" / "isic_cli_export"
META = EXPORT / "metadata.csv"
DF = [f"ISIC_01000{i:02d}" for i in range(1, 6)]
NV = [f"ISIC_01000{i:02d}" for i in range(14, 20)]
LEFT_OUT_DF = [f"ISIC_01000{i:02d}" for i in range(6, 14)]
LEFT_OUT_NV = [f"ISIC_01000{i:02d}" for i in range(20, 26)]


def test_the_fixture_is_in_isic_clis_layout():
    raw = META.read_bytes()
    assert b"\r\n" in raw and raw.count(b"\r\n") == raw.count(b"\n")  # csv.DictWriter's line ends
    header = raw.split(b"\r\n")[0].decode().split(",")
    assert header[:3] == ["isic_id", "attribution", "copyright_license"]
    assert header[3:] == sorted(header[3:])  # then the fields any image has, sorted
    assert "dermoscopic_type" not in header and "diagnosis" not in header  # no image has them
    assert (EXPORT / "attribution.txt").is_file() and (EXPORT / "licenses").is_dir()
    types = set(pd.read_csv(META, dtype=str, keep_default_na=False)["image_type"])
    assert set(IMAGE_TYPES) - {"RCM: macroscopic", "RCM: tile", "RCM: mosaic"} <= types and "" in types


def test_dermoscopic_df_and_nv_are_selected_with_their_lesion_groups():
    sel, rejects = ingest("isic_archive", META, None, "dermatofibroma", "nevus")
    df, nv = sel[sel.label == "dermatofibroma"], sel[sel.label == "nevus"]
    assert sorted(df.image_id) == DF and sorted(nv.image_id) == NV
    # 0100001 and 0100002 are one lesion, 0100005 has no lesion id (its own), 17 and 18 one lesion
    assert lesion_groups(df.reset_index(drop=True)).nunique() == 4
    assert lesion_groups(nv.reset_index(drop=True)).nunique() == 5
    # every left-out row of the two classes has its reason, and only those rows
    assert sorted(rejects.image_id) == sorted(LEFT_OUT_DF + LEFT_OUT_NV)
    assert rejects.reason.str.startswith(EXCLUDED).all()
    why = dict(zip(rejects.image_id, rejects.reason, strict=True))
    assert "image_type 'clinical: close-up' is not in data.image_types" in why["ISIC_0100006"]
    assert "image_type 'TBP tile: overview'" in why["ISIC_0100009"]
    assert "image_type 'RCM: mosaic'" in why["ISIC_0100023"]
    assert "blank image_type" in why["ISIC_0100011"] and "blank image_type" in why["ISIC_0100025"]
    assert "image_manipulation 'synthetic'" in why["ISIC_0100012"]
    assert "image_manipulation 'altered'" in why["ISIC_0100013"]
    assert why["ISIC_0100006"].endswith("(row 7)")  # the file's line, header = line 1
    counts = summarise_exclusions(rejects)
    assert counts["blank image_type"] == 2 and counts["image_manipulation 'synthetic'"] == 2
    assert sum(counts.values()) == 14
    # left out by the rule is not lost: it never counts against data.max_reject_fraction
    assert lost_fraction(sel.image_id, rejects) == (0, len(sel), 0.0)
    # licence and attribution travel with each image
    one = sel.set_index("image_id").loc["ISIC_0100003"]
    assert (one.license, one.attribution) == ("CC-BY-NC", "Hospital B")


def test_look_alikes_keep_their_own_names():
    labels = read_isic_archive(META).set_index("image_id")["label"]
    assert labels["ISIC_0100026"] == "epidermal_nevus"
    assert labels["ISIC_0100027"] == "dermatofibrosarcoma_protuberans"
    assert labels["ISIC_0100028"] == "dermal_melanocytosis"  # level 3; Nevus of Ito is level 4
    assert labels["ISIC_0100029"] == "nevus_sebaceus"
    assert labels["ISIC_0100030"] == "fibroma"
    assert labels["ISIC_0100032"] == "unknown"  # level 1 only
    assert (labels[DF + LEFT_OUT_DF] == "dermatofibroma").all()  # levels 3 and 4
    assert (labels[NV + LEFT_OUT_NV] == "nevus").all()  # levels 3, 4 and 5


def test_nevus_subtypes_narrow_the_nevi_at_levels_4_and_5():
    labels = read_isic_archive(META, nevus_subtypes=("Nevus, Spitz", "Blue nevus")).set_index("image_id")
    nevi = set(labels.index[labels.label == "nevus"]) & set(NV)
    assert nevi == {"ISIC_0100015", "ISIC_0100017", "ISIC_0100018"}
    assert labels.loc["ISIC_0100014", "label"] == "nevus_unspecified"  # no subtype given
    assert labels.loc["ISIC_0100016", "label"] == "nevus_clark"  # its level-5 name
    # a level-5 name, and "Nevus" for a nevus given no subtype
    labels = read_isic_archive(META, nevus_subtypes=("Nevus, Clark", "Nevus")).set_index("image_id")
    assert set(labels.index[labels.label == "nevus"]) & set(NV) == {"ISIC_0100014", "ISIC_0100016"}
    with pytest.raises(ValueError, match="'nevus, spits' are not ISIC Archive nevus"):
        read_isic_archive(META, nevus_subtypes=("Nevus, Spits",))


def test_the_rule_can_admit_other_types_and_take_a_blank_type_as_dermoscopic():
    rule = Inclusion(image_types=("dermoscopic", "clinical: close-up"), blank_image_type="dermoscopic",
                     reject_manipulations=("synthetic",))  # fmt: skip
    sel, _ = ingest("isic_archive", META, None, "dermatofibroma", "nevus", inclusion=rule)
    assert {"ISIC_0100006", "ISIC_0100011", "ISIC_0100013", "ISIC_0100020", "ISIC_0100025"} <= set(
        sel.image_id
    )
    assert "ISIC_0100012" not in set(sel.image_id) and "ISIC_0100008" not in set(sel.image_id)


def test_a_missing_diagnosis_column_names_the_file_and_the_columns(tmp_path):
    p = tmp_path / "metadata.csv"
    p.write_bytes(
        b"isic_id,attribution,copyright_license,diagnosis_1,image_type\r\nISIC_1,A,CC-0,Benign,dermoscopic\r\n"
    )
    expected = r"metadata.csv: no diagnosis column; expected 'diagnosis_3'.*found: isic_id, attribution, "
    with pytest.raises(DataFormatError, match=expected + "copyright_license, diagnosis_1"):
        read_isic_archive(p)


def test_an_export_with_nothing_left_says_what_the_rule_left_out(tmp_path):
    p = tmp_path / "metadata.csv"
    # no image_type column at all (no image has one): every row is blank, left out by default
    p.write_text("isic_id,diagnosis_3\nISIC_1,Dermatofibroma\nISIC_2,Nevus\n")
    with pytest.raises(
        DataFormatError, match=r"inclusion rule .* left out 2 image\(s\).*blank image_type: 2"
    ):
        ingest("isic_archive", p, None, "dermatofibroma", "nevus")


def test_metadata_inside_the_images_folder_is_found_without_configuration(tmp_path):
    images = tmp_path / "isic_archive" / "images"
    shutil.copytree(EXPORT, images)
    assert archive_metadata_default(str(images)) == str(images / "metadata.csv")
    # the older layout, metadata.csv beside the folder, is still found when it is the only one
    (images / "metadata.csv").rename(images.parent / "metadata.csv")
    assert archive_metadata_default(str(images)) == str(images.parent / "metadata.csv")


def test_other_formats_apply_the_rule_only_where_their_file_has_the_fields(fixtures):
    sel, rejects = ingest("ham10000", fixtures / "ham10000_gt.csv", None, "dermatofibroma", "nevus")
    assert len(sel) and not rejects.reason.str.startswith(EXCLUDED).any()


def test_another_format_whose_file_has_the_fields_is_screened_too(tmp_path):
    p = tmp_path / "ham.csv"
    p.write_text(
        "lesion_id,image_id,dx,image_type\n"
        "HAM_1,ISIC_1,df,dermoscopic\nHAM_2,ISIC_2,df,clinical: close-up\nHAM_3,ISIC_3,nv,\n"
        "HAM_4,ISIC_4,nv,dermoscopic\n"
    )
    sel, rejects = ingest("ham10000", p, None, "dermatofibroma", "nevus")
    assert sorted(sel.image_id) == ["ISIC_1", "ISIC_4"]
    assert summarise_exclusions(rejects) == {"blank image_type": 1, "image_type 'clinical: close-up'": 1}


def test_the_summary_keeps_a_value_with_parentheses_whole():
    reasons = pd.DataFrame({"image_id": ["a", "b"], "reason": [
        f"{EXCLUDED}: image_type 'RCM (tile)' is not in data.image_types (dermoscopic) (row 3)",
        f"{EXCLUDED}: blank image_type taken as 'clinical: overview' (data.blank_image_type), not in "
        "data.image_types (dermoscopic) (row 4)"]})  # fmt: skip
    assert summarise_exclusions(reasons) == {
        "blank image_type taken as 'clinical: overview'": 1,
        "image_type 'RCM (tile)'": 1,
    }
