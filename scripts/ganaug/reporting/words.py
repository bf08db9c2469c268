"""The report's sentences: the primary answer first, the caveats, and what a figure that looks
impossible means."""

from __future__ import annotations

import pandas as pd

from ganaug.generators import study
from ganaug.reporting import IN_DISTRIBUTION, METRIC_LABELS, for_set, primary_rows
from ganaug.reporting.generator_words import blur_note

ONE_SPLIT = (
    "With one split and one seed, nothing can be said about the training procedure: the variance "
    "between training runs (the split, the GAN, the seed, the tuned threshold) cannot be seen, so no "
    "verdict is given. The intervals below are conditional on these fits: they say how far this pair "
    "of fitted models could move on other test lesions, not whether gan_curated helps."
)


def caveats(final: dict) -> list[str]:
    """What limits the meaning of these numbers, in words, from the run's own provenance."""
    p = final["provenance"]
    out = []
    if p.get("phantom_demo_data"):
        out.append(
            "The data are the embedded PHANTOM demo set (generated images): "
            "no number here says anything about dermoscopy."
        )
    weights = p.get("classifier_weights")
    per_arch = weights if isinstance(weights, dict) else {"every architecture": weights}
    random = [a for a, w in per_arch.items() if w != "imagenet"]
    if random:
        out.append(
            f"Classifiers trained from a random init, not ImageNet weights: {', '.join(random)} "
            "(their numbers exercise the code; they say little about what a network can learn)."
        )
    ex = p.get("gan_feature_extractor") or {}
    if not ex.get("comparable", True):
        out.append(f"GAN metrics: {ex.get('name')}.")
    dino = p.get("gan_dinov2") or {}
    if not dino.get("comparable", True):
        out.append(f"GAN metrics' second feature space: {dino.get('name')}.")
    if p.get("simulated_review"):
        out.append("The human review of synthetic images was SIMULATED (curation.review.mode: simulate).")
    for key in ("lpips_backbone", "cluster_backbone"):
        if p.get(key) == "random":
            out.append(
                f"curation.{key} is a random-init network: "
                "its distances are not comparable to published ones."
            )
    unalike = blur_note(final)
    if unalike:
        out.append(unalike)
    for g in (final.get("generators") or {}).get("each", {}).values():
        if g["copying_flag"]["repeats"]:
            out.append(
                f"The {g['label']}'s curated images look copied from its training images "
                f"(data-copying z below {g['copying_flag']['z_below']:g}; section 5.6)."
            )
    n = len(p.get("seeds", [])) * len(p.get("repeats", [0]))
    if n < 2:
        out.append(
            "One replicate only (one split, one seed): no spread over replicates, and no test across them."
        )
    return out


def header(final: dict) -> str:
    """The report's title line, naming phantom data as phantom."""
    p = final["provenance"]
    kind = (
        "PHANTOM demo data (generated images, not dermoscopy)"
        if p.get("phantom_demo_data")
        else f"{p['data_format']} data"
    )
    gens = final.get("generators") or {}
    labels = [gens["each"][n]["label"] for n in gens.get("order", [])] or [study().label]
    if len(labels) == 1:
        title = f"# Synthetic dermatofibroma from a {labels[0]}: does it help CNNs?\n\n"
    else:  # the question asked of every configured generator, the study's named as such
        named = ", ".join(f"**{x}**" + (" (the study's)" if x == study().label else "") for x in labels)
        title = (
            f"# Synthetic dermatofibroma from {len(labels)} generators: does any help CNNs?\n\n"
            f"Generators: {named}.\n\n"
        )
    return (
        title + f"**{kind}.** Minority class "
        f"**{p['minority']}** against **{p['majority']}**, at {p['image_size']} px, "
        f"{len(p.get('repeats', [0]))} split(s) x seeds {p['seeds']}."
    )


def _set_name(name: str) -> str:
    return "in distribution" if name == IN_DISTRIBUTION else f"on the external set {name}"


def _one(r) -> str:
    """One primary hypothesis in a sentence."""
    metric = METRIC_LABELS[r.metric] + ("" if r.decision == "none" else f" at the {r.decision} threshold")
    where = f"{r.arch}, {_set_name(r.test_set)}: {r.condition} vs {r.reference}, Δ {metric}"
    if bool(r.degenerate):
        return f"{where}: degenerate (the two conditions trained on identical sets), no test."
    rests = (
        f"{int(r.n_repeats)} repeat(s) x {int(r.n_seeds)} seed(s), {int(r.n_test_lesions_minority)} DF "
        f"and {int(r.n_test_lesions_majority)} NV test lesions"
    )
    if r.n_repeats < 2:
        mde = (
            ""
            if pd.isna(r.mde_80)
            else "; the test lesions alone could resolve no difference at all (80 % power)"
            if r.mde_80 >= 1
            else (
                f"; the test lesions alone could not resolve a difference smaller than "
                f"±{r.mde_80:.3f} (80 % power, a lower bound)"
            )
        )
        lo, hi = r.ci_low, r.ci_high
        ci = "" if pd.isna(lo) else f" [{lo:+.3f}, {hi:+.3f}], conditional on these fits"
        return f"{where} {r.delta:+.3f}{ci} ({rests}); no verdict{mde}."
    mde = (
        ""
        if pd.isna(r.mde_80)
        else "; this design could detect no difference at all with 80 % power"
        if r.mde_80 >= 1
        else f"; this design detects |Δ| ≥ {r.mde_80:.3f} with 80 % power"
    )
    return (
        f"{where} {r.delta:+.3f} [{r.ci_adj_low:+.3f}, {r.ci_adj_high:+.3f}] (adjusted), Holm p "
        f"{r.p_holm:.3g}: **{r.verdict}** ({rests}){mde}."
    )


def primary_answer(diff: pd.DataFrame) -> str:
    """The answer to the declared question, in words: every primary hypothesis with its estimate,
    its interval, the verdict (or why there is none), what it rests on and what it could detect."""
    d = primary_rows(diff)
    if d.empty:
        return (
            "No primary hypothesis was run: the comparisons of `evaluation.primary` name conditions "
            "this run did not fit."
        )
    family = d["holm_family"].iloc[0]
    lines = [f"- {_one(r)}" for r in d.itertuples()]
    one_split = (d["n_repeats"] < 2).all()
    floor = (
        "none: with one split no test runs"
        if one_split
        else "0 (the corrected t's p has no floor), so every hypothesis can reach an adjusted p "
        "below the alpha"
    )
    text = [
        "## The answer",
        "",
        f"The declared family: {family}. Smallest attainable adjusted p: {floor}.",
        "",
    ]
    if one_split:
        text += [ONE_SPLIT, ""]
    else:
        text += [
            "Each primary Δ is the mean over repeats of each repeat's difference (seeds averaged within "
            "a repeat); its interval and p come from the corrected resampled t (Nadeau & Bengio 2003), "
            "which includes the "
            "variance between training runs. The adjusted interval is Bonferroni's 1 − α/m (it excludes 0 "
            "whenever Holm's first step rejects). The verdict's type-I error was measured by simulation "
            "(README, 'Are the verdicts calibrated?').",
            "",
        ]
    return "\n".join(text + lines)


def planning(design: pd.DataFrame) -> str:
    """The planning section: what this run's own spread says the design could detect, and what
    the next run would need (design.csv)."""
    head = "### Planning the next run from this one"
    if design.empty:
        return f"{head}\n\nNo primary hypothesis was run, so there is nothing to plan from."
    if (design["n_repeats"] < 2).all():
        return (
            f"{head}\n\nWith one split the spread between training runs cannot be seen, so this run "
            "cannot say what a design would detect. `snakemake results/plan/plan.md` gives the power of "
            "a design from the calibration simulation instead."
        )
    lines = [
        head,
        "",
        "Each primary hypothesis's variance, from this run: between repeats (what a repeat's seeds share: "
        "its test lesions, its training set, a training run of a condition), between seeds within a "
        "repeat, and, within the first, the test lesions' sampling (the lesion bootstrap). From them, the "
        "power of this design at the effect of interest (`evaluation.effect_of_interest`, at Holm's first "
        "step α/m) and the cheapest repeats x seeds that would reach 80 %, in GPU-hours on one H100 from "
        "the anchored cost model (a projection). The estimates rest on few repeats: read them as a guide.",
        "",
    ]
    for r in design.to_dict("records"):
        what = f"{r['arch']}, {r['metric']} ({r['test_set']})"
        if pd.isna(r.get("power")):
            lines.append(f"- {what}: {r['note']}.")
            continue
        nxt = (
            f"{int(r['repeats_for_goal'])} repeats x {int(r['seeds_for_goal'])} seeds would reach "
            f"{r['power_for_goal']:.2f} ({r['gpu_hours_for_goal']:.1f} GPU-hours)"
            if pd.notna(r.get("repeats_for_goal"))
            else "no design the splitter allows reaches 80 %"
        )
        lines.append(
            f"- {what}: power {r['power']:.2f} at Δ {r['effect_of_interest']:+.2f} with "
            f"{int(r['n_repeats'])} x {int(r['n_seeds'])} ({r['gpu_hours']:.1f} GPU-hours); {nxt}."
        )
    return "\n".join(lines)


def in_words(
    diff: pd.DataFrame,
    arch: str,
    condition: str,
    metric: str,
    decision: str = "tuned",
    test_set: str = IN_DISTRIBUTION,
) -> str:
    """One difference read out, with its family and (primary only) its verdict."""
    d = for_set(diff, test_set)
    r = d[
        (d["arch"] == arch)
        & (d["condition"] == condition)
        & (d["metric"] == metric)
        & (d["decision"] == decision)
    ].iloc[0]
    tail = f", {r['verdict']}" if r["family"] == "primary" else ", exploratory (unadjusted)"
    return (
        f"{arch}, {condition} vs {r['reference']}: Δ {METRIC_LABELS[metric]} {r['delta']:+.2f} "
        f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]{tail}"
    )


def synthetic_only_note() -> str:
    return (
        "synthetic_only trains on synthetic DF images and no real ones, but its epoch and its decision "
        "threshold are chosen on the real validation DF images, like every other condition's: it is not a "
        "model that never saw real DF."
    )


def design_note(final: dict) -> str:
    """What the repeated splits share and what they do not."""
    r = final["provenance"].get("repeats", [0])
    if len(r) < 2:
        return "One split: its test set was read once, after the epoch and the threshold were fixed."
    return (
        f"{len(r)} repeated splits with disjoint test sets (each lesion is tested in at most one repeat); "
        "their training sets overlap, which is why the inference across repeats uses Nadeau and Bengio's "
        "correction. An external set is the same images in every repeat: its lesion sampling is added to the "
        "variance."
    )


def data_inclusion_note(final: dict) -> str:
    """What the inclusion rule left out and what was rejected, from the data summary."""
    ds = final.get("dataset_statistics", {})
    excluded = ds.get("excluded_images") or {}
    rejected = ds.get("rejected_images", 0)
    parts = []
    if excluded:
        listed = "; ".join(f"{k}: {v}" for k, v in excluded.items())
        parts.append(
            f"The inclusion rule (data.image_types, data.blank_image_type, data.reject_manipulations) left "
            f"out {sum(excluded.values())} image(s) of the two classes ({listed}); they were never part of "
            "the study."
        )
    parts.append(
        f"{rejected} image(s) were rejected (unreadable, conflicting labels ...): `results/data/rejects.csv`."
    )
    same = ds.get("same_lesion")
    if same is not None:
        parts.append(
            f"The archive was screened against itself for the same lesion under two lesion ids (perceptual "
            f"hash, and the published and configured lists): {same['pairs']} pair(s), {same['by_hash']} by "
            f"hash and {same['by_list']} listed, {same['new_joins']} of them joining two lesion groups that "
            "the lesion and patient ids kept apart; each pair is kept in one split "
            "(`results/data/same_lesion.csv`)."
        )
    for name, ext in (final.get("external_sets") or {}).items():
        if ext.get("excluded_images"):
            n = sum(ext["excluded_images"].values())
            listed = "; ".join(f"{k}: {v}" for k, v in ext["excluded_images"].items())
            parts.append(f"External set {name}: {n} image(s) left out by the same rule ({listed}).")
    return " ".join(parts)


def licence_note(final: dict) -> str:
    """The real images' licences, and where their attributions are listed."""
    lic = final.get("licences")
    if not lic:
        return ""
    counts = ", ".join(f"{k}: {v}" for k, v in lic["by_licence"].items())
    phantom = final.get("provenance", {}).get("phantom_demo_data")
    kind = "phantom images (drawings, not photographs)" if phantom else "real images"
    note = (
        f"Licences of the {lic['images']} {kind} used ({counts}); every image's attribution: `{lic['file']}`."
    )
    if lic["non_commercial"]:
        note += " " + non_commercial_note(final)
    return note


def non_commercial_note(final: dict) -> str:
    """The note beside a figure that shows real images, when some are under a non-commercial licence."""
    lic = final.get("licences") or {}
    n = lic.get("non_commercial", 0)
    if not n:
        return ""
    return (
        f"**Licence:** {n} of the real images are under a non-commercial licence (CC-BY-NC); a figure that "
        "shows real images may show them, so it may not be reused commercially, and their attributions "
        f"(`{lic['file']}`) go with it."
    )
