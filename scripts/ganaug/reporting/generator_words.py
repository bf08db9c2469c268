"""The report's sentences about the generators and their synthetic sets: the metrics in words,
the visual Turing test, the blur rule, data copying, and which generators the run compared."""

from __future__ import annotations

from ganaug.evaluation.which_generator import each_generator, kid_key, kid_label, mean_of


def explain_gan(gan: dict) -> list[str]:
    """Figures of the GAN metrics that look impossible, and why they are not."""
    out = []
    names = gan.get("names", {"kd": "kid", "score": "inception_score"})
    random = not gan.get("feature_extractor", {}).get("comparable", True)
    for name, s in gan["sets"].items():
        for ref, a in s["against"].items():
            kid = (a.get(names["kd"]) or {}).get("mean")
            if kid is not None and kid < 0:
                out.append(
                    f"{name} vs {ref}: {names['kd']} is negative ({1000 * kid:.3g} x 1e-3). It is an "
                    "unbiased estimate of a distance that is 0 for one distribution, so it scatters around "
                    "0 and can fall below it; read it as 'no difference this size can show'."
                )
            for key in ("precision", "recall"):
                v = (a.get(key) or {}).get("mean")
                if v == 1.0:
                    why = (
                        " from a random-init network, whose features barely separate images" if random else ""
                    )
                    out.append(
                        f"{name} vs {ref}: {key} 1.0{why}: every image falls inside the other side's "
                        f"k-nearest-neighbour balls, which at {a.get('n_per_side')} images a side are wide."
                    )
        score = (s.get(names["score"]) or {}).get("mean")
        if score is not None and score < 1.05:
            out.append(
                f"{name}: {names['score']} {score:.3g}, its minimum (1.0): the classifier gives every "
                "image the same class distribution"
                + (" (a random-init network does)" if random else "")
                + "."
            )
    return out


def explain_turing(turing: dict) -> list[str]:
    """A realism AUC below 0.5 means the reviewers scored the synthetic images more real than the
    real ones: say so where the table shows it."""
    below = [r for r in turing.get("reviewers", []) if (r.get("realism_auc") or 0.5) < 0.5]
    if not below:
        return []
    who = ", ".join(f"{r['reviewer']} ({r['realism_auc']:.2f})" for r in below)
    sim = (
        " The reviewers are simulated: their scores follow image statistics, not judgement."
        if turing.get("simulated")
        else ""
    )
    return [
        f"Realism AUC below 0.5 for {who}: they scored the synthetic images as more real than the real ones "
        f"(0.5: cannot tell them apart; 0: the opposite of right every time).{sim}"
    ]


def blur_note(final: dict) -> str:
    """Where curation.blur_threshold gives the generators different values, say so: their curated
    sets passed different filters, so a comparison of them is not of their generators alone."""
    gens = final.get("generators") or {}
    each = [gens["each"][n] for n in gens.get("order", gens.get("each", {}))]  # the registry's order
    values = [(g["label"], g.get("blur_threshold")) for g in each]
    if len({v for _, v in values}) < 2:
        return ""
    listed = ", ".join(f"{label} {v:g}" for label, v in values if v is not None)
    return (
        f"The generators' images passed different blur thresholds ({listed}; curation.blur_threshold): "
        "their curated sets were not filtered alike, so a comparison of them is not of the generators alone."
    )


def copying_warning(final: dict, name: str) -> str:
    """What the report prints above a generator's classifier results when its curated set's
    data-copying z says copying (ganaug.evaluation.which_generator.COPYING_Z), else ""."""
    g = (final.get("generators") or {}).get("each", {}).get(name)
    if not g or not g["copying_flag"]["repeats"]:
        return ""
    reps = g["copying_flag"]["repeats"]
    zs = ", ".join(f"{g['repeats'][r]['sets']['curated']['copying_z']:.1f}" for r in reps)
    return (
        f"**{g['label']} copies its training images** in repeat{'s' if len(reps) > 1 else ''} "
        f"{', '.join(reps)}: its curated set's data-copying z is {zs} ({g['copying_flag']['rule']}). "
        "Its classifier results below may show what its training images teach, not what new images would."
    )


def snapshot_words(snaps: list[dict]) -> str:
    """Which weights were sampled, per repeat: the snapshot's place in the training and, scored,
    its KID against val."""
    at = ", ".join(f"{s['unit']} {s['at']:,} of {s['of']:,}" for s in snaps)
    if snaps[0]["select"] == "last":
        return f"sampled from its final weights ({at}; snapshots.select: last)"
    kid = mean_of([s["kid_x1000_vs_val"] for s in snaps])
    return (
        "sampled from the latest snapshot within one standard error of the lowest KID x 1000 against val "
        f"among {snaps[0]['n_snapshots']} "
        f"({at}; {kid:.1f})"
    )


def generators_sentence(final: dict) -> str:
    """The "Which generator?" figures in words: per generator, KID against val, the data-copying
    z, the Turing test's balanced accuracy (means over repeats) and the snapshot sampled, read out."""
    parts = []
    for g, reps, cur in each_generator(final):
        kid = mean_of([c.get(kid_key(c)) for c in cur])
        z = mean_of([c.get("copying_z") for c in cur])
        acc = mean_of([r["turing"]["balanced_accuracy"] for r in reps])
        name = kid_label(cur[0])
        bits = [
            f"{name} x 1000 against the held-out val images {kid:.1f}"
            if kid is not None
            else f"no {name} against val"
        ]
        if z is not None:
            # no reading of a z near 0: it is N(0, 1) without copying; only the flag is a reading
            flagged = g["copying_flag"]["repeats"]
            reading = (
                f"copying flagged in repeat {', '.join(flagged)}"
                if flagged
                else f"not below {g['copying_flag']['z_below']:g}: no copying flagged"
            )
            bits.append(f"data-copying z {z:+.2f} ({reading})")
        if acc is not None:
            bits.append(
                f"the reviewers' balanced accuracy at telling its images from real ones {acc:.2f} "
                "(0.5: chance)"
            )
        bits.append(snapshot_words([r["snapshot"] for r in reps]))
        parts.append(f"**{g['label']}**: " + "; ".join(bits))
    return ". ".join(parts) + "." if parts else ""
