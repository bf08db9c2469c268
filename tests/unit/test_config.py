"""The config contract: defaults, unknown keys, bad values, cross-key checks, documentation."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from ganaug.config import ConfigError, load_schema, validate_config
from tests.helpers import REPO, conditions_with_the_ddpm


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_validate(name):
    cfg = validate_config(load(name))
    # the study config: two rounds of the six disjoint test folds; the demo, to stay fast, one split
    repeats = 12 if name == "config.yaml" else 1
    assert cfg["data"]["split"] == {"train": 0.70, "val": 0.15, "test": 0.15, "seed": 42, "repeats": repeats}


def test_defaults_are_the_study_values():
    cfg = validate_config({})
    d = cfg["data"]
    assert cfg["seed"] == 42
    assert (d["format"], d["minority"], d["majority"], d["image_size"]) == (
        "isic2019",
        "dermatofibroma",
        "nevus",
        256,
    )
    assert d["max_reject_fraction"] == 0.02
    # null paths resolve to ISIC 2019's standard place; download defaults to on for ISIC 2019 only
    assert d["phantom"] is None and d["download"] is True
    assert d["images"] == "resources/isic2019/ISIC_2019_Training_Input"
    assert d["metadata"] == "resources/isic2019/ISIC_2019_Training_Metadata.csv"


def test_phantom_defaults_are_filled():
    cfg = validate_config({"data": {"phantom": {"n_minority_lesions": 3}}})
    ph = cfg["data"]["phantom"]
    assert ph["n_minority_lesions"] == 3 and ph["n_majority_lesions"] == 200 and ph["seed"] == 42


def test_input_is_not_mutated():
    raw = {"data": {"image_size": 64}}
    before = copy.deepcopy(raw)
    validate_config(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        ({"bogus": 1}, "unknown key(s) 'bogus' under the top level"),
        ({"data": {"imagesize": 3}}, "unknown key(s) 'imagesize' under 'data'"),
        ({"data": {"split": {"tran": 0.7}}}, "'data.split'"),
        (
            {"data": {"format": "isic2018"}},
            "'data.format': 'isic2018' is not allowed; allowed values: isic2019",
        ),
        ({"data": {"image_size": "256"}}, "'data.image_size'"),
        ({"data": {"image_size": 8}}, "'data.image_size'"),
        ({"data": {"max_reject_fraction": 1.5}}, "'data.max_reject_fraction'"),
        ({"device": "tpu"}, "'device': 'tpu' is not allowed"),
        ({"data": {"phantom": {"width": 10}}}, "'data.phantom.width'"),
        ({"data": {"phantom": {"colour": 1}}}, "'colour'"),
    ],
)
def test_bad_values_name_the_key(cfg, needle):
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert needle in str(err.value)


def test_narrowing_archs_over_a_wider_weights_table_is_fine():
    # --configfile merges mappings key by key: the demo's weights table keeps its Lite0 entry
    # when a later config trains ResNet-50 only
    wide = {"archs": ["timm/tf_efficientnet_lite0", "resnet50"]}
    wide["weights"] = {"timm/tf_efficientnet_lite0": "imagenet", "resnet50": "random"}
    validate_config({"classifier": {**wide, "archs": ["resnet50"]}})
    with pytest.raises(ConfigError, match="no weights for densenet121"):
        validate_config({"classifier": {**wide, "archs": ["densenet121"]}})
    with pytest.raises(ConfigError, match=r"'classifier\.weights': unknown architecture 'resnet5'"):
        validate_config({"classifier": {**wide, "weights": {**wide["weights"], "resnet5": "random"}}})


def test_split_must_sum_to_one():
    with pytest.raises(ConfigError, match=r"data.split.train/val/test' must sum to 1"):
        validate_config({"data": {"split": {"train": 0.8, "val": 0.15, "test": 0.15}}})


def test_minority_and_majority_differ():
    with pytest.raises(ConfigError, match="two different classes"):
        validate_config({"data": {"majority": "dermatofibroma"}})


@pytest.mark.parametrize(
    ("minority", "majority"),
    [("DF", "NV"), ("df", "nv"), ("Dermatofibroma", "Nevus"), (" dermatofibroma ", "nevus")],
)
def test_documented_label_spellings_become_the_canonical_names(minority, majority):
    """data.minority: DF once gave a metadata.csv with no positive at all."""
    d = validate_config({"data": {"minority": minority, "majority": majority}})["data"]
    assert (d["minority"], d["majority"]) == ("dermatofibroma", "nevus")


def test_the_same_class_check_sees_canonical_names():
    with pytest.raises(ConfigError, match="both name 'dermatofibroma'"):
        validate_config({"data": {"minority": "DF", "majority": "Dermatofibroma"}})


def test_isic2020_refusal_sees_canonical_names():
    with pytest.raises(ConfigError, match="ISIC 2020 contains no dermatofibroma"):
        validate_config({"data": {"format": "isic2020", "minority": "df", "majority": "NV"}})


def merged(user: dict) -> dict:
    """What Snakemake gives the workflow for --configfile user.yaml: the file merged key by key
    over config/config.yaml (snakemake.utils.update_config)."""
    from snakemake.utils import update_config

    base = load("config.yaml")
    update_config(base, copy.deepcopy(user))
    return base


def test_a_ham10000_config_inherits_no_isic2019_path():
    """The HAM10000 config config/README.md describes: format, images, ground_truth only. It
    used to inherit ISIC 2019's metadata path and download: true, so the workflow scheduled the
    ISIC 2019 download over the user's files."""
    d = validate_config(
        merged({"data": {"format": "ham10000", "images": "h/img", "ground_truth": "h/gt.csv"}})
    )["data"]
    assert d["metadata"] is None and d["download"] is False
    assert (d["images"], d["ground_truth"]) == ("h/img", "h/gt.csv")


def test_the_demo_inherits_no_data_path():
    d = validate_config(merged(load("demo.yaml")))["data"]
    assert all(d[k] is None for k in ("images", "ground_truth", "metadata", "masks"))
    assert d["download"] is False


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {"format": "ham10000", "metadata": "x.csv"},
            "'data.metadata': 'x.csv' is set, but format 'ham10000'",
        ),
        ({"format": "isic_archive", "download": True}, "'data.download': true, but only ISIC 2019"),
        ({"format": "ham10000", "phantom": {}}, "'data.phantom' writes the ISIC 2019 layout"),
        ({"phantom": {}, "images": "mine"}, "'data.images': 'mine' is set, but with 'data.phantom'"),
        ({"phantom": {}, "masks": "m"}, "'data.masks'"),
        ({"phantom": {}, "download": True}, "'data.download': true, but 'data.phantom' is set"),
        ({"image_types": ["dermoscopy"]}, "'data.image_types': 'dermoscopy' is not an ISIC image type"),
        ({"blank_image_type": "photo"}, "'data.blank_image_type': 'photo' is not an ISIC image type"),
        ({"reject_manipulations": ["edited"]}, "'data.reject_manipulations': 'edited' is not an ISIC"),
        ({"nevus_subtypes": ["Nevus, Spitz"]}, "'data.nevus_subtypes' is only for formats derm7pt and"),
        ({"phantom": {}, "archive_extra": {}}, "'data.archive_extra' is set, but 'data.phantom'"),
        (
            {"format": "isic_archive", "archive_extra": {}, "extra_minority": "x"},
            "'data.extra_minority' and 'data.archive_extra' are both set",
        ),
    ],
)
def test_keys_that_make_no_sense_for_the_format_are_named(data, needle):
    with pytest.raises(ConfigError) as err:
        validate_config({"data": data})
    assert needle in str(err.value)


def test_an_archive_export_is_found_in_isic_clis_layout_by_default():
    d = validate_config({"data": {"format": "isic_archive"}})["data"]
    assert d["images"] == "resources/isic_archive/images"
    assert d["ground_truth"] == "resources/isic_archive/images/metadata.csv"  # isic-cli writes it there
    assert d["image_types"] == ["dermoscopic"] and d["blank_image_type"] is None
    assert d["reject_manipulations"] == ["synthetic", "altered"]


def test_other_formats_get_their_own_standard_place():
    d = validate_config({"data": {"format": "ham10000"}})["data"]
    assert d["ground_truth"] == "resources/ham10000/HAM10000_metadata.csv" and d["metadata"] is None


def test_validation_is_idempotent():
    once = validate_config(load("config.yaml"))
    assert validate_config(once) == once
    demo = validate_config(load("demo.yaml"))
    assert validate_config(demo) == demo


def test_isic2020_has_no_dermatofibroma():
    with pytest.raises(ConfigError) as err:
        validate_config({"data": {"format": "isic2020"}})
    msg = str(err.value)
    assert "ISIC 2020 contains no dermatofibroma" in msg and "isic2019" in msg


def test_isic2020_is_fine_for_other_classes():
    cfg = validate_config({"data": {"format": "isic2020", "minority": "melanoma"}})
    assert cfg["data"]["minority"] == "melanoma"


def _schema_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    props = schema.get("properties", {})
    for branch in schema.get("oneOf", []):
        props = {**props, **branch.get("properties", {})}
    for name, sub in props.items():
        key = f"{prefix}{name}"
        keys.append(key)
        keys += _schema_keys(sub, key + ".")
    return keys


def test_every_key_is_documented():
    doc = (REPO / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([a-z_][a-z0-9_.]*)`", doc))
    missing = [k for k in _schema_keys(load_schema()) if k not in documented]
    assert not missing, f"config/README.md does not document: {missing}"


def test_more_repeats_than_disjoint_test_folds_is_refused():
    validate_config({"data": {"split": {"repeats": 6}}})  # 6 x 0.15 <= 1
    with pytest.raises(
        ConfigError, match=r"7 repeats need 7 disjoint test sets, but a test share of 0.15 leaves only 6"
    ):
        validate_config({"data": {"split": {"repeats": 7}}})
    validate_config({"data": {"split": {"repeats": 12}}})  # two whole rounds of the 6 folds
    with pytest.raises(ConfigError, match=r"leaves only 4"):
        validate_config({"data": {"split": {"train": 0.6, "val": 0.15, "test": 0.25, "repeats": 5}}})


@pytest.mark.parametrize(
    ("primary", "needle"),
    [
        ({"comparisons": [["gan_curatd", "baseline"]]}, "'evaluation.primary.comparisons'"),
        ({"comparisons": [["baseline", "baseline"]]}, "two different conditions"),
        (
            {"test_sets": ["shifted"]},
            "'evaluation.primary.test_sets': 'shifted' is not one of in_distribution",
        ),
        ({"archs": ["vgg16"]}, "'evaluation.primary.archs': 'vgg16' is not one of classifier.archs"),
        ({"metrics": ["auc"]}, "'evaluation.primary.metrics.0'"),
    ],
)
def test_the_primary_family_names_what_the_run_has(primary, needle):
    with pytest.raises(ConfigError) as err:
        validate_config({"evaluation": {"primary": primary}})
    assert needle in str(err.value)


def test_the_primary_family_defaults_to_the_declared_question():
    prim = validate_config({})["evaluation"]["primary"]
    assert prim == {"comparisons": [["gan_curated", "baseline"]], "metrics": ["pr_auc", "sensitivity"],
                    "decision": "tuned", "test_sets": "all", "archs": "all"}  # fmt: skip


BASE_TABLE = {
    "baseline": {"synthetic": "none", "real_minority": True, "augment": False},
    "gan_curated": {"synthetic": "curated", "n_synthetic": 600, "real_minority": True, "augment": False},
}


@pytest.mark.parametrize(
    ("cond", "needle"),
    [
        (
            {"synthetic": "raw", "synthetic_count_to": "gan_curated", "n_synthetic": 5},
            "exclude each other; give one",
        ),
        ({"synthetic": "raw"}, "n_synthetic (> 0) or synthetic_count_to is needed"),
        ({"synthetic": "none", "synthetic_count_to": "gan_curated"}, "nothing to count"),
        ({"synthetic": "raw", "synthetic_count_to": "baseline"}, "adds no synthetic images"),
        (
            {"synthetic": "curated_random", "synthetic_count_to": "gan_curated"},
            "count only within one curated source",
        ),
        ({"synthetic": "raw", "n_synthetic": 5, "synthetic_fraction": 0.5}, "only with synthetic_count_to"),
        (
            {"synthetic": "raw", "synthetic_count_to": "x", "oversample_to": "gan_curated"},
            "exclude each other",
        ),
    ],
)
def test_a_counted_condition_says_how_many(cond, needle):
    table = {**BASE_TABLE, "x": {"real_minority": True, "augment": False, **cond}}
    with pytest.raises(ConfigError) as err:
        validate_config({"classifier": {"conditions": table}})
    assert needle in str(err.value)


def test_an_uncurated_set_of_the_curated_count_validates():
    counted = {
        "synthetic": "raw",
        "synthetic_count_to": "gan_curated",
        "real_minority": True,
        "augment": False,
    }
    quarter = {"synthetic": "curated", "synthetic_count_to": "gan_curated", "synthetic_fraction": 0.25,
               "real_minority": True, "augment": False}  # fmt: skip
    cfg = validate_config({"classifier": {"conditions": {**BASE_TABLE, "a": counted, "b": quarter}}})
    assert cfg["classifier"]["conditions"]["a"]["n_synthetic"] == 0


def _with_conditions(**conds) -> dict:
    base = {
        "baseline": {"synthetic": "none", "n_synthetic": 0, "real_minority": True, "augment": False},
        "gan_curated": {"synthetic": "curated", "n_synthetic": 10, "real_minority": True, "augment": False},
    }
    return {"classifier": {"conditions": {**base, **conds}}, "evaluation": {"pairs": []}}


DDPM_CURATED = {"synthetic": "curated", "n_synthetic": 10, "real_minority": True, "augment": False}


def test_a_condition_may_name_a_registered_generator():
    cfg = validate_config(_with_conditions(ddpm_curated={**DDPM_CURATED, "generator": "ddpm"}))
    assert cfg["classifier"]["conditions"]["ddpm_curated"]["generator"] == "ddpm"
    assert cfg["ddpm"]["total_steps"] == 30000 and cfg["ddpm"]["sampling_steps"] == 50
    # no default is written into a condition: the study's conditions stay as they were
    assert "generator" not in validate_config({})["classifier"]["conditions"]["gan_curated"]


@pytest.mark.parametrize(
    "conds, extra, needle",
    [
        (
            {"x": {**DDPM_CURATED, "generator": "stylegan9"}},
            {},
            "'stylegan9' is not a registered generator (wgan_gp, ddpm, stylegan2_ada)",
        ),
        (
            {"x": {"synthetic": "none", "real_minority": True, "augment": False, "generator": "ddpm"}},
            {},
            "classifier.conditions.x.generator': the condition adds no synthetic images",
        ),
        (
            {
                "d": {**DDPM_CURATED, "generator": "ddpm"},
                "u": {"synthetic": "raw", "synthetic_count_to": "d", "real_minority": True, "augment": False},
            },
            {},
            "'d' adds images of generator ddpm, this condition of wgan_gp; match counts within one generator",
        ),
        (
            {"d": {**DDPM_CURATED, "generator": "ddpm"}},
            {"ddpm": {"block_out_channels": [48, 96], "norm_num_groups": 32}},
            "config section 'ddpm': ddpm.norm_num_groups 32 does not divide channels [48]",
        ),
    ],
)
def test_a_bad_generator_is_named_before_anything_runs(conds, extra, needle):
    with pytest.raises(ConfigError) as err:
        validate_config({**_with_conditions(**conds), **extra})
    assert needle in str(err.value)


def test_a_ddpm_only_matched_to_its_own_family_is_fine():
    validate_config(
        _with_conditions(
            d={**DDPM_CURATED, "generator": "ddpm"},
            u={
                "synthetic": "raw",
                "synthetic_count_to": "d",
                "real_minority": True,
                "augment": False,
                "generator": "ddpm",
            },
            o={"synthetic": "none", "real_minority": True, "augment": False, "oversample_to": "d"},
        )
    )


def test_a_blur_threshold_per_generator_names_every_generator_in_use_and_no_other():
    classifier = {"conditions": conditions_with_the_ddpm()}
    validate_config({"curation": {"blur_threshold": {"wgan_gp": 780, "ddpm": 100}}, "classifier": classifier})
    # the study's generator is always trained, so it needs one even with no condition naming it
    with pytest.raises(ConfigError, match=r"'curation.blur_threshold': no threshold for generator 'wgan_gp'"):
        validate_config({"curation": {"blur_threshold": {"ddpm": 100}}, "classifier": classifier})
    with pytest.raises(ConfigError, match=r"no threshold for generator 'ddpm', which is in use"):
        validate_config({"curation": {"blur_threshold": {"wgan_gp": 780}}, "classifier": classifier})
    with pytest.raises(ConfigError, match=r"'stylegan' is not a registered generator"):
        validate_config({"curation": {"blur_threshold": {"wgan_gp": 780, "stylegan": 5}}})
    with pytest.raises(ConfigError, match=r"curation.blur_threshold"):
        validate_config({"curation": {"blur_threshold": {"wgan_gp": -1}}})
