"""The config's semantic checks: what a JSON schema cannot express, run on the typed sections
(fractions that sum to one, a dataset that has the class, keys that make no sense for the data's
format or origin, conditions, comparisons and generators that name what exists). Each problem
names its key; ``ganaug.config.validate_config`` lists them all in one error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ganaug.data.sources import IN_DISTRIBUTION, ExternalSetConfig, data_problems, external_problems
from ganaug.dataclass_io import from_dict
from ganaug.generators import DEFAULT, FAMILIES
from ganaug.loss_spec import LossSpec
from ganaug.models.registry import arch_spec
from ganaug.primary import Primary
from ganaug.settings import (
    MATCH_KEYS,
    ClassifierConfig,
    Condition,
    CurationConfig,
    DataConfig,
    EvaluationConfig,
)

# Formats whose archives hold no dermatofibroma at all. ISIC 2020 (the SIIM-ISIC melanoma
# challenge) lists nevus, melanoma, seborrheic keratosis, lentigo NOS, lichenoid keratosis,
# solar lentigo, cafe-au-lait macule, atypical melanocytic proliferation and unknown.
FORMATS_WITHOUT_DF = {"isic2020"}


@dataclass(frozen=True)
class Sections:
    """The validated config as the typed sections the semantic checks read (each built by the one
    ``from_dict``, so the checks and the rules see the same objects)."""

    data: DataConfig
    curation: CurationConfig
    classifier: ClassifierConfig
    conditions: dict[str, Condition]
    evaluation: EvaluationConfig
    primary: Primary
    external: dict[str, ExternalSetConfig]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Sections:
        ev = from_dict(EvaluationConfig, config["evaluation"], "evaluation")
        conditions = config["classifier"]["conditions"]
        return cls(
            from_dict(DataConfig, config["data"], "data"),
            from_dict(CurationConfig, config["curation"], "curation"),
            from_dict(ClassifierConfig, config["classifier"], "classifier"),
            {name: Condition.from_dict(name, c) for name, c in conditions.items()},
            ev,
            Primary.of(ev.primary, ev.alpha),
            {
                name: from_dict(ExternalSetConfig, spec, f"evaluation.external.{name}")
                for name, spec in ev.external.items()
            },
        )


def check_semantics(config: Mapping[str, Any]) -> list[str]:
    """Checks a schema cannot express, run on the typed sections: fractions that sum to one, a
    dataset that has the class, keys that make no sense for the data's format or origin, and
    conditions, comparisons and generators that name what exists."""
    study = Sections.of(config)
    data, split = study.data, study.data.split
    problems: list[str] = []
    total = split.train + split.val + split.test
    if abs(total - 1.0) > 1e-9:
        problems.append(
            "config keys 'data.split.train/val/test' must sum to 1, "
            f"got {split.train} + {split.val} + {split.test} = {total:g}"
        )
    folds = int(1.0 / split.test + 1e-9) if split.test > 0 else 0
    if split.repeats > folds and (folds == 0 or split.repeats % folds):
        problems.append(
            f"config key 'data.split.repeats': {split.repeats} repeats need {split.repeats} disjoint "
            f"test sets, but a test share of {split.test} leaves only {folds}: use at most {folds}, or "
            f"whole rounds of {folds} ({2 * folds}, {3 * folds}, ...: each round its own disjoint folds)"
        )
    if data.minority == data.majority:
        problems.append(
            f"config keys 'data.minority' and 'data.majority' both name {data.minority!r}; "
            "they must name two different classes"
        )
    if data.format in FORMATS_WITHOUT_DF and "dermatofibroma" in (data.minority, data.majority):
        problems.append(no_dermatofibroma_message(data.format))
    problems += data_problems(data)
    for name, spec in study.external.items():
        problems += external_problems(name, spec)
    problems += classifier_problems(study.classifier)
    conditions = study.conditions
    problems += generator_problems(study, config)
    for cond in conditions.values():
        problems += matched_problems(cond, conditions)
        problems += loss_problems(cond)
    for pair in study.evaluation.pairs:
        unknown = [c for c in pair if c not in conditions]
        if unknown or pair[0] == pair[1]:
            problems.append(
                f"config key 'evaluation.pairs': {list(pair)} must name two different conditions of "
                f"classifier.conditions ({', '.join(conditions)})"
            )
    problems += primary_problems(study)
    for ref in study.evaluation.references:
        if ref not in conditions:
            problems.append(
                f"config key 'evaluation.references': {ref!r} is not a condition of "
                f"classifier.conditions ({', '.join(conditions)})"
            )
    return problems


def primary_problems(study: Sections) -> list[str]:
    """The primary family names conditions of the table, test sets that exist and architectures
    that are trained."""
    conditions, prim = study.conditions, study.primary
    problems = []
    for pair in prim.comparisons:
        if any(c not in conditions for c in pair) or pair[0] == pair[1]:
            problems.append(
                f"config key 'evaluation.primary.comparisons': {list(pair)} must name two different "
                f"conditions of classifier.conditions ({', '.join(conditions)})"
            )
    sets = [IN_DISTRIBUTION, *study.external]
    if prim.test_sets != "all":
        problems += [
            f"config key 'evaluation.primary.test_sets': {s!r} is not one of {', '.join(sets)}"
            for s in prim.test_sets
            if s not in sets
        ]
    if prim.archs != "all":
        archs = study.classifier.archs
        problems += [
            f"config key 'evaluation.primary.archs': {a!r} is not one of classifier.archs "
            f"({', '.join(archs)})"
            for a in prim.archs
            if a not in archs
        ]
    return problems


def synthetic_count_problems(key: str, cond: Condition) -> list[str]:
    """A condition with synthetic images says how many: n_synthetic, or synthetic_count_to."""
    matched = cond.synthetic_count_to is not None
    if cond.synthetic == "none":
        return (
            [f"config key '{key}.synthetic_count_to': synthetic is none, so there is nothing to count"]
            if matched
            else []
        )
    if matched and cond.n_synthetic:
        return [f"config key '{key}': n_synthetic and synthetic_count_to exclude each other; give one"]
    if not matched and not cond.n_synthetic:
        return [
            f"config key '{key}': synthetic is {cond.synthetic!r}, so n_synthetic (> 0) or "
            "synthetic_count_to is needed"
        ]
    if not matched and cond.synthetic_fraction != 1:
        return [f"config key '{key}.synthetic_fraction': only with synthetic_count_to"]
    return []


def generator_problems(study: Sections, config: Mapping[str, Any]) -> list[str]:
    """Every condition's generator is a registered family, and the settings of each family a
    condition names are ones it can train with (checked here, not in the job hours later)."""
    problems, used = [], set()
    for name, cond in study.conditions.items():
        gen = cond.generator or DEFAULT
        if gen not in FAMILIES:
            problems.append(
                f"config key 'classifier.conditions.{name}.generator': {gen!r} is not a registered "
                f"generator ({', '.join(FAMILIES)})"
            )
        elif cond.synthetic == "none" and cond.generator is not None:
            problems.append(
                f"config key 'classifier.conditions.{name}.generator': the condition adds no synthetic "
                "images (synthetic: none), so it has no generator; leave the key out"
            )
        else:
            used.add(gen)
    for gen in sorted(used | {DEFAULT}):  # the study's generator's settings are always built
        try:
            FAMILIES[gen].settings(config)
        except ValueError as err:
            problems.append(f"config section '{FAMILIES[gen].section}': {err}")
    if study.curation.blur_percentile is not None:  # one rule for all: no per-generator values
        if isinstance(study.curation.blur_threshold, Mapping):
            problems.append(
                "config keys 'curation.blur_threshold' and 'curation.blur_percentile': a threshold per "
                "generator and the shared percentile rule exclude each other; set blur_percentile: null or "
                "give blur_threshold one number"
            )
        return problems
    return problems + blur_problems(study.curation.blur_threshold, used | {DEFAULT})


def blur_problems(blur: float | Mapping[str, float], used: set[str]) -> list[str]:
    """A blur threshold per generator names registered generators, and every one in use."""
    if not isinstance(blur, Mapping):
        return []
    key, named = "config key 'curation.blur_threshold'", ", ".join(blur) or "none"
    unknown = [
        f"{key}: {g!r} is not a registered generator ({', '.join(FAMILIES)})"
        for g in sorted(set(blur) - set(FAMILIES))
    ]
    missing = [
        f"{key}: no threshold for generator {g!r}, which is in use (it names {named}); "
        f"add {g}: <value>, or give one number for every generator"
        for g in sorted(used - set(blur))
    ]
    return unknown + missing


def loss_problems(cond: Condition) -> list[str]:
    """A loss setting must belong to the loss it is given with (tau to logit_adjusted, ...)."""
    if cond.loss is None:
        return []
    try:
        LossSpec.of(cond.loss, f"classifier.conditions.{cond.name}.loss")
    except ValueError as e:
        return [f"config key {e}"]
    return []


def matched_problems(cond: Condition, conditions: Mapping[str, Condition]) -> list[str]:
    """oversample_to, extra_real_to and synthetic_count_to name another condition with a fixed
    training set."""
    key = f"classifier.conditions.{cond.name}"
    given = [k for k in MATCH_KEYS if getattr(cond, k) is not None]
    if len(given) > 1:
        return [f"config key '{key}': {' and '.join(given)} exclude each other"]
    problems = synthetic_count_problems(key, cond)
    if not given:
        return problems
    which = given[0]
    to = getattr(cond, which)
    if to not in conditions or to == cond.name:
        return [
            f"config key '{key}.{which}': {to!r} is not another condition of the table "
            f"({', '.join(conditions)})"
        ]
    other = conditions[to]
    if other.matched_to is not None:
        return [
            f"config key '{key}.{which}': {to!r} is matched to a condition itself; name a condition "
            "with a fixed training set"
        ]
    if which != "synthetic_count_to" and not cond.real_minority:
        return [f"config key '{key}': {which} needs real_minority: true"]
    if which != "oversample_to" and other.synthetic == "none":
        return [f"config key '{key}.{which}': {to!r} adds no synthetic images, so there is nothing to match"]
    mine, theirs = (c.generator or DEFAULT for c in (cond, other))
    if cond.synthetic != "none" and other.synthetic != "none" and mine != theirs:
        return [
            f"config key '{key}.{which}': {to!r} adds images of generator {theirs}, this condition "
            f"of {mine}; match counts within one generator"
        ]
    curated = [c.synthetic for c in (cond, other) if c.synthetic.startswith("curated")]
    if which == "synthetic_count_to" and len(set(curated)) > 1:
        return [
            f"config key '{key}.synthetic_count_to': {to!r} draws from {other.synthetic}, this "
            f"condition from {cond.synthetic}; count only within one curated source, or from raw"
        ]
    return problems


def classifier_problems(cls: ClassifierConfig) -> list[str]:
    """Architectures the registry knows, and weights for each of them."""
    problems = []
    for arch in cls.archs:
        try:
            arch_spec(arch)
        except ValueError as err:
            problems.append(f"config key 'classifier.archs': {err}")
    weights = cls.weights
    if isinstance(weights, dict):
        missing = [a for a in cls.archs if a not in weights]
        if missing:
            problems.append(f"config key 'classifier.weights': no weights for {', '.join(missing)}")
        # entries for architectures not trained are allowed: --configfile merges mappings key by
        # key, so a config that narrows classifier.archs cannot remove the wider table's entries.
        # A misspelt name is still an error.
        for arch in (a for a in weights if a not in cls.archs):
            try:
                arch_spec(arch)
            except ValueError as err:
                problems.append(f"config key 'classifier.weights': {err}")
    for arch, w in weights.items() if isinstance(weights, dict) else [(None, weights)]:
        if w == "none":
            where = "classifier.weights" + (f".{arch}" if arch else "")
            problems.append(
                f"config key '{where}': 'none' is now spelt 'random' (random init), as everywhere"
            )
    return problems


def no_dermatofibroma_message(fmt: str) -> str:
    return (
        f"data.format {fmt!r}: ISIC 2020 contains no dermatofibroma at all (its diagnoses are "
        "nevus, melanoma, seborrheic keratosis, lentigo NOS, lichenoid keratosis, solar "
        "lentigo, cafe-au-lait macule, atypical melanocytic proliferation and unknown). Use "
        "data.format: isic2019 (ISIC 2019 has 239 DF images) or ham10000 (115 DF images). "
        "The '300 DF in ISIC 2020' of the original study is wrong."
    )
