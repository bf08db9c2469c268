"""The typed config sections: defaults equal the schema's, unknown keys refused, and what each
rule's params hold (so that changing one key reruns what depends on it, and nothing else)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from ganaug.config import load_schema, validate_config
from ganaug.dataclass_io import from_dict
from ganaug.evaluation.synthetic_quality import Settings as GanMetricSettings
from ganaug.generators import FAMILIES
from ganaug.generators.wgan_gp.config import WganGpConfig
from ganaug.settings import (
    CURATION_STAGE_KEYS,
    ClassifierConfig,
    CurationConfig,
    DataConfig,
    EvaluationConfig,
    FitConfig,
    PhantomConfig,
    ReviewConfig,
    SameLesionConfig,
    SplitConfig,
    curation_params,
    fit_params,
)
from tests.helpers import REPO, conditions_with_the_ddpm

FULL_SCHEMA = load_schema()
SCHEMA = FULL_SCHEMA["properties"]


def section(*path: str) -> dict:
    node = {"properties": SCHEMA}
    for p in path:
        node = node["properties"][p]
        if "oneOf" in node:  # data.phantom: null or the object (a shared $defs entry)
            node = next(b for b in node["oneOf"] if b.get("type") != "null")
        if "$ref" in node:
            node = FULL_SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node["properties"]


@pytest.mark.parametrize(
    ("cls", "path"),
    [
        (DataConfig, ("data",)),
        (SplitConfig, ("data", "split")),
        (SameLesionConfig, ("data", "same_lesion")),
        (PhantomConfig, ("data", "phantom")),
        (CurationConfig, ("curation",)),
        (ReviewConfig, ("curation", "review")),
        (ClassifierConfig, ("classifier",)),
        (FitConfig, ("classifier",)),
        (EvaluationConfig, ("evaluation",)),
        (GanMetricSettings, ("evaluation",)),
    ],
)
def test_dataclass_defaults_equal_the_schemas(cls, path):
    props = section(*path)
    for f in dataclasses.fields(cls):
        if f.name not in props or "default" not in props[f.name] or f.name == "conditions":
            continue  # no schema default; or the condition table, which is data
        mine = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(mine):
            continue  # a nested section: its own case above
        mine = list(mine) if isinstance(mine, tuple) else mine
        assert mine == props[f.name]["default"], (cls.__name__, f.name)


SECTIONS = [
    (DataConfig, ("data",)),
    (CurationConfig, ("curation",)),
    (ClassifierConfig, ("classifier",)),
    (EvaluationConfig, ("evaluation",)),
    (FitConfig, ("classifier",)),
    (GanMetricSettings, ("evaluation",)),
]
EXTRAS = {
    GanMetricSettings: {"lpips_chunk", "seed"},
    FitConfig: {"eval_batch_size"},
    ClassifierConfig: {"eval_batch_size"},
}  # not config keys of their section (the generator families': tests/unit/generators)


@pytest.mark.parametrize(("cls", "path"), SECTIONS)
def test_every_dataclass_field_is_a_schema_key_or_declared_extra(cls, path):
    props = section(*path)
    for f in dataclasses.fields(cls):
        assert f.name in props or f.name in EXTRAS.get(cls, set()), (cls.__name__, f.name)


def test_from_dict_refuses_unknown_keys_and_builds_nested_sections():
    with pytest.raises(ValueError, match=r"unknown key\(s\) lr_x in gan; allowed: .*lr_g"):
        WganGpConfig.from_section({"lr_x": 1}, 64, 42)
    d = from_dict(DataConfig, validate_config({})["data"], "data")
    assert isinstance(d.split, SplitConfig) and d.split.train == 0.70 and d.phantom is None
    c = from_dict(CurationConfig, validate_config({})["curation"], "curation")
    assert isinstance(c.review, ReviewConfig) and c.review.reviewers == 3


def test_the_shipped_configs_build_every_section():
    for name in ("config.yaml", "demo.yaml"):
        cfg = validate_config(yaml.safe_load((REPO / "config" / name).read_text()))
        from_dict(DataConfig, cfg["data"], "data")
        from_dict(CurationConfig, cfg["curation"], "curation")
        from_dict(ClassifierConfig, cfg["classifier"], "classifier")
        from_dict(EvaluationConfig, cfg["evaluation"], "evaluation")
        for fam in FAMILIES.values():
            fam.settings(cfg)


def test_a_fit_depends_on_its_own_keys_only():
    cls = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))["classifier"]
    p = fit_params(cls, "resnet50", "real_oversampled")
    assert set(p) == {"fit", "weights", "condition", "match"}
    assert p["match"]["name"] == "gan_curated" and p["condition"]["oversample_to"] == "gan_curated"
    assert "seeds" not in p["fit"] and "archs" not in p["fit"]  # adding a seed reruns no fit
    weights = {**dict.fromkeys(cls["archs"], "imagenet"), "timm/convnext_tiny": "random"}
    more = {**cls, "seeds": [42, 43], "archs": [*cls["archs"], "timm/convnext_tiny"], "weights": weights}
    assert fit_params(more, "resnet50", "real_oversampled") == p


def test_sampling_and_watch_keys_never_rerun_training():
    gan = WganGpConfig.from_section(validate_config({})["gan"], 256, 42)
    train = gan.training_params()
    assert not set(train) & set(WganGpConfig.SAMPLING_KEYS + WganGpConfig.WATCH_KEYS)
    assert set(WganGpConfig.RESUME_KEYS) <= set(train) and "total_iterations" in train
    # TF32 too: it moves a GPU's samples (a sampling param, so a change resamples, never retrains)
    sampling = {"n_samples", "sample_batch_size", "seed", "latent_dim", "features_g", "img_size", "tf32"}
    assert set(gan.sampling_params()) == sampling


def test_each_curation_stage_has_its_keys():
    cur = validate_config({})["curation"]
    assert curation_params(cur, "ssim", "wgan_gp") == {"ssim_min": 0.3, "ssim_max": 0.95, "chunk_size": 16}
    assert set(CURATION_STAGE_KEYS) == {"blur", "ssim", "lpips", "review", "clusters"}


def test_a_blur_threshold_per_generator_reaches_only_that_generators_stages():
    classifier = {"conditions": conditions_with_the_ddpm()}
    one = validate_config({"curation": {"blur_threshold": 55.5}, "classifier": classifier})["curation"]
    per = {"blur_threshold": {"wgan_gp": 780, "ddpm": 100}}
    per = validate_config({"curation": per, "classifier": classifier})["curation"]
    for stage in ("blur", "clusters"):
        assert curation_params(one, stage, "ddpm")["blur_threshold"] == 55.5
        assert curation_params(per, stage, "wgan_gp")["blur_threshold"] == 780
        assert curation_params(per, stage, "ddpm")["blur_threshold"] == 100
    # the other stages do not hold it: a change of threshold reruns blur and clusters only
    assert curation_params(per, "ssim", "ddpm") == curation_params(one, "ssim", "ddpm")
    with pytest.raises(ValueError, match=r"no threshold for generator 'ddpm' \(it names wgan_gp\)"):
        from_dict(CurationConfig, {"blur_threshold": {"wgan_gp": 780}}, "curation").blur_of("ddpm")


def test_a_condition_refuses_an_unknown_key_and_matching_has_one_answer():
    from ganaug.settings import Condition, matched_to

    good = {"synthetic": "curated", "real_minority": True, "augment": False, "generator": "ddpm"}
    assert Condition.from_dict("x", {"name": "x", **good}).synthetic == "curated"
    with pytest.raises(ValueError, match=r"conditions.x: unknown key\(s\) generatr; allowed: .*generator"):
        Condition.from_dict("x", {**good, "generatr": "ddpm"})
    assert matched_to({"oversample_to": None, "synthetic_count_to": "a"}) == "a" and matched_to({}) is None
    assert Condition.from_dict("y", {**good, "extra_real_to": "b"}).matched_to == "b"
    cfg = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    params = fit_params(cfg["classifier"], "resnet50", "real_oversampled")
    assert params["match"]["name"] == matched_to(cfg["classifier"]["conditions"]["real_oversampled"])


def test_the_primary_family_and_the_inclusion_rule_come_through_from_dict():
    from ganaug.data.inclusion import Inclusion
    from ganaug.evaluation.families import Primary

    p = Primary.of({"comparisons": [["gan_curated", "baseline"]], "archs": ["resnet50"]}, 0.01)
    assert p.comparisons == (("gan_curated", "baseline"),) and p.archs == ("resnet50",) and p.alpha == 0.01
    with pytest.raises(ValueError, match=r"unknown key\(s\) metric in evaluation.primary"):
        Primary.of({"metric": ["f1"]})
    cfg = validate_config({})
    assert Primary.of(cfg["evaluation"]["primary"]) == Primary()
    from ganaug.settings import data_params

    rule = Inclusion.from_section(data_params(cfg["data"], "ingest")["inclusion"])
    assert rule == Inclusion() and isinstance(rule.image_types, tuple)
    with pytest.raises(ValueError, match=r"unknown key\(s\) minority in data"):
        Inclusion.from_section({"minority": "dermatofibroma"})
