# The input functions of the classify stage's rules (rules/classify.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def arch_pattern(archs):
    """The {arch} wildcard: the configured architectures and every other registered one, so a
    target such as results/resnet50/gan_curated/metrics.json is built even when classifier.archs
    leaves resnet50 out (rule all still builds only the configured ones)."""
    from ganaug.models.registry import TIMM_PREFIX, TORCHVISION_ARCHS

    names = sorted(set(archs) | set(TORCHVISION_ARCHS), key=len, reverse=True)
    return "|".join([*map(re.escape, names), re.escape(TIMM_PREFIX) + r"[a-z0-9_.]+"])


def matched_condition(name):
    """(name, settings) of the condition ``name`` is matched to (oversample_to, extra_real_to
    or synthetic_count_to), or None."""
    to = matched_to(CLS["conditions"][name])
    return None if to is None else {"name": to, **CLS["conditions"][to]}


def synthetic_inputs(cond, r):
    """The synthetic folder (and its provenance file) of a condition's source in repeat folder
    ``r``, from its generator's folder (synthetic/ for the study's)."""
    source, syn = cond["synthetic"], f"{r}/{of_condition(cond).synthetic}"
    if source == "raw":
        return {"raw": f"{syn}/raw", "manifest": f"{syn}/raw_manifest.csv"}
    if source.startswith("curated"):
        # curated (the cluster selection), curated_random or curated_best: one folder each
        return {"curated": f"{syn}/{source}", "curation_summary": f"{syn}/curation/summary.json"}
    return {}


def classifier_inputs(wildcards):
    """metadata.csv, plus the synthetic images (and their provenance) a condition uses, and those
    of the condition it is matched to (whose counts it matches)."""
    matched = matched_condition(wildcards.condition)
    own = CLS["conditions"][wildcards.condition]
    r = rep(wildcards.repeat)
    inputs = {
        "metadata": f"{r}/data/metadata.csv",
        **{f"cache_{s}": f"{r}/data/cache/{s}.npy" for s in ("train", "val", "test")},
        "weights": cached(f"classifier.weights ({wildcards.arch})"),
        **(synthetic_inputs(matched, r) if matched else {}),
        **synthetic_inputs(own, r),
    }
    for name in config["evaluation"]["external"]:
        inputs[f"external_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
    if CLS["conditions"][wildcards.condition].get("extra_real_to"):
        inputs["extra"] = f"{RESULTS}/data/extra/metadata.csv"
    return inputs


def external_fit_outputs():
    """A fit's predictions of each external test set (named outputs external_<name>)."""
    fit = f"{REP}/{{arch}}/{{condition}}/seed_{{seed}}"
    return {
        f"external_{name}": f"{fit}/external/{name}/predictions.csv"
        for name in config["evaluation"]["external"]
    }
