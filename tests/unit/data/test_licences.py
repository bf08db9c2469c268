"""attribution.csv: every real image with its licence and attribution, the Archive's per image,
a challenge release's for all its images, the phantom's own; non-commercial ones flagged."""

import pandas as pd

from ganaug.data.ingest import ingest
from ganaug.data.licences import (
    FORMAT_LICENCES,
    UNKNOWN,
    attribution_rule,
    is_non_commercial,
    licence_summary,
)
from ganaug.reporting import words
from tests.unit.data.test_archive_export import META


def test_non_commercial_licences_are_recognised():
    assert is_non_commercial("CC-BY-NC") and is_non_commercial("CC BY-NC 4.0")
    assert not is_non_commercial("CC-BY") and not is_non_commercial("CC-0") and not is_non_commercial("MIT")


def test_the_archive_keeps_each_images_licence_and_a_release_its_own(tmp_path):
    sel, _ = ingest("isic_archive", META, None, "dermatofibroma", "nevus")
    sel.to_csv(tmp_path / "archive.csv", index=False)
    ext = pd.DataFrame({"image_id": ["ISIC_1", "ISIC_2", "ISIC_3"], "license": "", "attribution": ""})
    ext.to_csv(tmp_path / "ext.csv", index=False)
    ext.iloc[:2].to_csv(tmp_path / "ext_kept.csv", index=False)  # ISIC_3 was dropped as an overlap
    pool = pd.DataFrame({"image_id": ["X_1"]})
    pool.to_csv(tmp_path / "extra.csv", index=False)
    external = {"ham": (tmp_path / "ext.csv", tmp_path / "ext_kept.csv", "ham10000")}
    counts = attribution_rule(tmp_path / "archive.csv", "isic_archive", tmp_path / "attribution.csv",
                               external=external, extra=tmp_path / "extra.csv")  # fmt: skip
    att = pd.read_csv(tmp_path / "attribution.csv", dtype=str, keep_default_na=False).set_index("image_id")
    assert set(att.index) == set(sel["image_id"]) | {"ISIC_1", "ISIC_2", "X_1"}
    assert tuple(att.loc["ISIC_0100003", ["license", "attribution", "non_commercial"]]) == (
        "CC-BY-NC", "Hospital B", "True")  # fmt: skip
    assert (
        att.loc["ISIC_0100004", "license"] == "CC-0" and att.loc["ISIC_0100004", "non_commercial"] == "False"
    )
    assert tuple(att.loc["ISIC_1", ["set", "license"]]) == ("external:ham", "CC-BY-NC")
    assert att.loc["ISIC_1", "attribution"] == FORMAT_LICENCES["ham10000"][1]
    assert att.loc["X_1", "license"] == UNKNOWN  # a plain folder of images says nothing
    assert sum(counts.values()) == len(att)
    # what final_results.json and the report say of it
    summary = licence_summary(tmp_path / "attribution.csv")
    assert summary["images"] == len(att) and summary["by_licence"] == counts
    assert summary["non_commercial"] == int((att["non_commercial"] == "True").sum()) > 0
    final = {"licences": summary, "provenance": {"phantom_demo_data": False}}
    note = words.licence_note(final)
    assert f"Licences of the {len(att)} real images used" in note and "non-commercial" in note
    assert str(summary["non_commercial"]) in words.non_commercial_note(final)


def test_the_pool_takes_each_images_licence_from_isic_clis_metadata(tmp_path):
    from tests.unit.data.test_archive_export import EXPORT

    pd.DataFrame({"image_id": []}).to_csv(tmp_path / "archive.csv", index=False)
    pd.DataFrame({"image_id": ["ISIC_0100003", "ISIC_0100004"]}).to_csv(tmp_path / "extra.csv", index=False)
    attribution_rule(tmp_path / "archive.csv", "isic_archive", tmp_path / "att.csv",
                      extra=tmp_path / "extra.csv", extra_source=EXPORT)  # fmt: skip
    att = pd.read_csv(tmp_path / "att.csv", dtype=str, keep_default_na=False).set_index("image_id")
    assert att.loc["ISIC_0100003", "license"] == "CC-BY-NC" and att.loc["ISIC_0100004", "license"] == "CC-0"
    assert att.loc["ISIC_0100003", "attribution"] == "Hospital B" and set(att["set"]) == {"extra"}


def test_the_phantom_is_labelled_as_drawn_not_photographed(tmp_path):
    pd.DataFrame({"image_id": ["PHANTOM_0000001"]}).to_csv(tmp_path / "a.csv", index=False)
    attribution_rule(tmp_path / "a.csv", "phantom", tmp_path / "att.csv")
    att = pd.read_csv(tmp_path / "att.csv", dtype=str, keep_default_na=False)
    assert att["license"].tolist() == ["MIT"] and "not a photograph" in att["attribution"][0]
