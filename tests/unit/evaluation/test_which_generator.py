"""The "Which generator?" section: each generator's figures read from its own files, the copying
flag, the head-to-head rows, and the report's table and words built from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganaug.evaluation.which_generator import head_to_head, summarise, training_cost, turing_figures
from ganaug.reporting import generator_words, synthetic_tables, words


def _metrics(rng, z_curated: float) -> dict:
    """A metrics.json as gan_metrics writes it, with fresh random figures."""

    def against(n):
        return {
            "n_per_side": n,
            "kid": {"mean": float(rng.uniform(0.01, 0.3)), "sd": float(rng.uniform(0, 0.01))},
        }

    return {
        "names": {"fd": "fid", "kd": "kid", "score": "inception_score"},
        "sets": {
            "raw": {"n_synthetic": 50, "against": {"val": against(7), "train": against(7)},
                    "copying": {"z": float(rng.normal()), "c_t": 0.1, "why": ""}},
            "curated": {"n_synthetic": 9, "against": {"val": against(7), "train": against(7)},
                        "copying": {"z": z_curated, "c_t": z_curated / 2, "why": ""},
                        "dinov2": {"against": {"val": {"kernel_distance": {"mean": float(rng.uniform())}}}}},
        },
    }  # fmt: skip


def _turing(rng, n_reviewers=3) -> dict:
    return {
        "review_mode": "simulate",
        "simulated": True,
        "n_real_images": 5,
        "n_synthetic_images": 9,
        "reviewers": [
            {"reviewer": f"r{i}", "accuracy": float(rng.uniform()), "balanced_accuracy": float(rng.uniform()),
             "realism_auc": float(rng.uniform()) if i else None}
            for i in range(n_reviewers)
        ],
    }  # fmt: skip


def _bench(path, seconds, rss) -> str:
    cols = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
    path.write_text(f"{cols}\n{seconds}\t0:00:{int(seconds)}\t{rss}\t1\t1\t1\t0\t0\t50\t{seconds * 2}\n")
    return str(path)


def _snapshot(rng, method: str = "kid_val", of: int = 400) -> dict:
    """snapshot.json as select_snapshot writes it: four snapshots, the lowest scored chosen."""
    units = [100, 200, 300, 400] if of == 400 else [of]
    kids = [float(k) for k in rng.uniform(1, 20, len(units))] if method == "kid_val" else [None] * len(units)
    best = int(np.argmin(kids)) if method == "kid_val" else len(units) - 1
    snaps = [
        {"snapshot": i, "iteration": u, "kid_x1000_vs_val": k}
        for i, (u, k) in enumerate(zip(units, kids, strict=True))
    ]
    return {"method": method, "unit": "iteration", "of": units[-1], "chosen": snaps[best], "snapshots": snaps}


def test_the_turing_figures_are_the_reviewers_means_by_hand():
    t = {"reviewers": [
        {"accuracy": 0.5, "balanced_accuracy": 0.6, "realism_auc": 0.7},
        {"accuracy": 0.7, "balanced_accuracy": None, "realism_auc": 0.9},
        {"accuracy": 0.9, "balanced_accuracy": 0.8, "realism_auc": None},
    ], "review_mode": "files", "n_real_images": 4, "n_synthetic_images": 10}  # fmt: skip
    out = turing_figures(t)
    assert out["accuracy"] == pytest.approx(0.7) and out["balanced_accuracy"] == pytest.approx(0.7)
    assert out["realism_auc"] == pytest.approx(0.8) and out["n_reviewers"] == 3 and not out["simulated"]


def test_the_training_cost_is_read_from_the_benchmark_file(tmp_path):
    assert training_cost(_bench(tmp_path / "b.tsv", 79.25, 1234.5)) == {
        "seconds": 79.25,
        "max_rss_mb": 1234.5,
    }
    assert training_cost(_bench(tmp_path / "c.tsv", 3.0, "NA"))["max_rss_mb"] is None


def test_head_to_head_keeps_only_rows_of_two_generators():
    diffs = pd.DataFrame({
        "condition": ["gan_curated", "ddpm_curated", "gan_curated", "gan_curated", "ddpm_curated"],
        "reference": ["baseline", "baseline", "ddpm_curated", "gan_random", "gan_curated"],
    })  # fmt: skip
    of = {"gan_curated": "wgan_gp", "gan_random": "wgan_gp", "ddpm_curated": "ddpm"}
    assert head_to_head(diffs, of).index.tolist() == [2, 4]


def test_the_section_reads_each_generators_own_files_and_flags_copying(tmp_path):
    rng = np.random.default_rng()
    gens = [
        {"name": "wgan_gp", "label": "WGAN-GP", "conditions": ["gan_curated"]},
        {"name": "ddpm", "label": "DDPM", "conditions": ["ddpm_curated"]},
    ]
    metrics = {
        "wgan_gp": [_metrics(rng, 0.4), _metrics(rng, -1.0)],
        "ddpm": [_metrics(rng, -4.2), _metrics(rng, 0.3)],
    }
    turing = {g: [_turing(rng), _turing(rng)] for g in metrics}
    each = {
        g: {"metrics": metrics[g], "turing": turing[g], "snapshot": [_snapshot(rng), _snapshot(rng)],
            "train_benchmark": [_bench(tmp_path / f"{g}{r}.tsv", 60.0 * (r + 1), 100 + r) for r in range(2)]}
        for g in metrics
    }  # fmt: skip
    diffs = pd.DataFrame({"condition": ["ddpm_curated"], "reference": ["gan_curated"]})
    out = summarise(gens, each, {"gan_curated": "wgan_gp", "ddpm_curated": "ddpm"}, diffs)
    assert out["order"] == ["wgan_gp", "ddpm"] and out["head_to_head"] == [["ddpm_curated", "gan_curated"]]
    d = out["each"]["ddpm"]
    assert d["copying_flag"]["repeats"] == ["0"] and out["each"]["wgan_gp"]["copying_flag"]["repeats"] == []
    cur = d["repeats"]["1"]["sets"]["curated"]
    src = metrics["ddpm"][1]["sets"]["curated"]["against"]
    assert cur["kid_x1000_vs_val"] == pytest.approx(1000 * src["val"]["kid"]["mean"])
    assert cur["kid_x1000_vs_train"] == pytest.approx(1000 * src["train"]["kid"]["mean"])
    assert cur["copying_z"] == 0.3 and cur["n_per_side"] == 7
    assert d["repeats"]["1"]["training"] == {"seconds": 120.0, "max_rss_mb": 101.0}
    snap = each["ddpm"]["snapshot"][1]["chosen"]
    assert d["repeats"]["1"]["snapshot"] == {
        "select": "kid_val",
        "unit": "iteration",
        "at": snap["iteration"],
        "of": 400,
        "n_snapshots": 4,
        "kid_x1000_vs_val": snap["kid_x1000_vs_val"],
    }

    # the report: the table's means over repeats, the warning above the flagged generator only
    final = {"generators": out}
    t = synthetic_tables.generator_table(final)
    assert t.index.tolist() == ["WGAN-GP", "DDPM"]
    kids = [1000 * m["sets"]["curated"]["against"]["val"]["kid"]["mean"] for m in metrics["ddpm"]]
    assert t.loc["DDPM", "curated: KID x 1000 vs val"] == pytest.approx(np.mean(kids))
    dino = [
        1000 * m["sets"]["curated"]["dinov2"]["against"]["val"]["kernel_distance"]["mean"]
        for m in metrics["ddpm"]
    ]
    assert t.loc["DDPM", "curated: DINOv2 kernel distance x 1000 vs val"] == pytest.approx(np.mean(dino))
    assert cur["dinov2_kd_vs_val_x1000"] == pytest.approx(dino[1])
    accs = [np.mean([r["accuracy"] for r in x["reviewers"]]) for x in turing["ddpm"]]
    assert t.loc["DDPM", "Turing: accuracy"] == pytest.approx(np.mean(accs))
    assert t.loc["WGAN-GP", "training (min)"] == pytest.approx(1.5)
    assert t.loc["WGAN-GP", "training length"] == "400 iterations"
    chosen = [x["chosen"] for x in each["ddpm"]["snapshot"]]
    assert t.loc["DDPM", "snapshot: KID x 1000 vs val"] == pytest.approx(
        np.mean([c["kid_x1000_vs_val"] for c in chosen])
    )
    assert (
        t.loc["DDPM", "snapshot sampled"]
        == f"kid_val: {chosen[0]['iteration']}, {chosen[1]['iteration']} (of 4)"
    )
    assert generator_words.copying_warning(final, "wgan_gp") == ""
    warning = generator_words.copying_warning(final, "ddpm")
    assert "DDPM copies its training images" in warning and "-4.2" in warning
    final["provenance"] = {"seeds": [42], "repeats": [0, 1]}
    assert any("DDPM's curated images look copied" in c for c in words.caveats(final))
    assert not any("WGAN-GP's curated" in c for c in words.caveats(final))
    sentence = generator_words.generators_sentence(final)
    assert "**WGAN-GP**" in sentence and "copying flagged in repeat 0" in sentence
    assert (
        f"within one standard error of the lowest KID x 1000 against val among 4 (iteration {chosen[0]['iteration']} of 400"
        in sentence
    )


def test_a_non_inception_extractor_names_its_kernel_distance_so(tmp_path):
    """With another feature extractor metrics.json calls KID kernel_distance: the section keeps
    that name, and the report's table and words find the figure under it."""
    rng = np.random.default_rng()
    m = _metrics(rng, 0.1)
    m["names"]["kd"] = "kernel_distance"
    for s in m["sets"].values():
        for a in s["against"].values():
            a["kernel_distance"] = a.pop("kid")
    gens = [{"name": "wgan_gp", "label": "WGAN-GP", "conditions": ["gan_curated"]}]
    each = {
        "wgan_gp": {
            "metrics": [m],
            "turing": [_turing(rng)],
            "train_benchmark": [_bench(tmp_path / "b.tsv", 6.0, 1)],
            "snapshot": [_snapshot(rng, "last", 50)],
        }
    }
    final = {"generators": summarise(gens, each, {"gan_curated": "wgan_gp"}, pd.DataFrame())}
    want = 1000 * m["sets"]["curated"]["against"]["val"]["kernel_distance"]["mean"]
    assert final["generators"]["each"]["wgan_gp"]["repeats"]["0"]["sets"]["curated"][
        "kernel_distance_x1000_vs_val"
    ] == pytest.approx(want)
    assert synthetic_tables.generator_table(final).loc[
        "WGAN-GP", "curated: kernel distance x 1000 vs val"
    ] == pytest.approx(want)
    sentence = generator_words.generators_sentence(final)
    assert f"kernel distance x 1000 against the held-out val images {want:.1f}" in sentence
    assert "sampled from its final weights (iteration 50 of 50; snapshots.select: last)" in sentence
    assert synthetic_tables.generator_table(final).loc["WGAN-GP", "snapshot: KID x 1000 vs val"] is None


@pytest.mark.parametrize(("wgan", "ddpm"), [(780.0, 100.0), (100.0, 100.0)])
def test_each_generators_blur_threshold_is_shown_and_unalike_ones_are_a_caveat(tmp_path, wgan, ddpm):
    rng = np.random.default_rng()
    gens = [
        {"name": "wgan_gp", "label": "WGAN-GP", "conditions": ["gan_curated"], "blur_threshold": wgan},
        {"name": "ddpm", "label": "DDPM", "conditions": ["ddpm_curated"], "blur_threshold": ddpm},
    ]
    each = {
        g["name"]: {"metrics": [_metrics(rng, 0.0)], "turing": [_turing(rng)], "snapshot": [_snapshot(rng)],
                    "train_benchmark": [_bench(tmp_path / f"{g['name']}.tsv", 6.0, 1)]}
        for g in gens
    }  # fmt: skip
    of = {"gan_curated": "wgan_gp", "ddpm_curated": "ddpm"}
    final = {"generators": summarise(gens, each, of, pd.DataFrame()), "provenance": {"seeds": [42]}}
    # as final_results.json stores it (sorted keys): the note keeps the registry's order
    final["generators"]["each"] = dict(sorted(final["generators"]["each"].items()))
    assert final["generators"]["each"]["ddpm"]["blur_threshold"] == ddpm
    assert synthetic_tables.generator_table(final)["blur threshold"].tolist() == [wgan, ddpm]
    note = generator_words.blur_note(final)
    if wgan == ddpm:
        assert note == "" and not any("blur thresholds" in c for c in words.caveats(final))
    else:
        assert "different blur thresholds (WGAN-GP 780, DDPM 100" in note and note in words.caveats(final)


def test_the_gan_table_shows_the_dinov2_figures_beside_inceptions_and_the_caveat_names_them():
    rng = np.random.default_rng()
    kd, fd = float(rng.uniform(0.001, 0.1)), float(rng.uniform(1, 50))
    dino = {"kernel_distance": {"mean": kd, "sd": None}, "frechet_distance": {"mean": fd, "sd": None}}
    a = {"n_per_side": 7, "draws": 1, "kid": {"mean": 0.5, "sd": None}}
    gan = {
        "names": {"fd": "fid", "kd": "kid", "score": "inception_score"},
        "references": {"val": {"n": 7, "set": "val"}},
        "sets": {"curated": {"n_synthetic": 9, "inception_score": {"mean": 1.0, "sd": None},
                             "lpips_diversity": {"mean": 0.3, "sd": None},
                             "against": {"val": a}, "dinov2": {"against": {"val": dino}}}},
        "dinov2": {"name": "DINOv2 ViT-S/14, RANDOM INIT", "comparable": False},
    }  # fmt: skip
    t = synthetic_tables.gan_metrics_table(gan)
    assert t.loc["DINOv2: kernel distance x 1000", "curated vs val"] == f"{1000 * kd:.4g}"
    assert t.loc["DINOv2: Frechet distance (FD_DINOv2)", "curated vs val"] == f"{fd:.4g}"
    assert t.loc["DINOv2: precision", "curated vs val"] == "n/a"
    gan["dinov2"] = None
    assert not any(i.startswith("DINOv2") for i in synthetic_tables.gan_metrics_table(gan).index)
    final = {"provenance": {"seeds": [42], "gan_dinov2": {"name": "DINOv2 X", "comparable": False}}}
    assert any("second feature space: DINOv2 X" in c for c in words.caveats(final))


def test_the_shared_blur_rule_raises_no_unalike_caveat():
    each = {n: {"label": n.upper(), "blur_threshold": None, "blur_percentile": 10.0} for n in ("a", "b", "c")}
    final = {"generators": {"order": list(each), "each": each}}
    assert generator_words.blur_note(final) == ""
    each["b"] = {"label": "B", "blur_threshold": 780, "blur_percentile": None}
    each["a"] |= {"blur_threshold": 100, "blur_percentile": None}
    each["c"] |= {"blur_threshold": 100, "blur_percentile": None}
    assert "different blur thresholds" in generator_words.blur_note(final)


def test_the_title_asks_the_question_of_every_generator():
    p = {"data_format": "isic2019", "minority": "df", "majority": "nv", "image_size": 64, "seeds": [42]}
    gens = {
        "order": ["wgan_gp", "ddpm", "stylegan2_ada"],
        "each": {
            "wgan_gp": {"label": "WGAN-GP"},
            "ddpm": {"label": "DDPM"},
            "stylegan2_ada": {"label": "StyleGAN2-ADA"},
        },
    }
    head = words.header({"provenance": p, "generators": gens})
    assert head.startswith("# Synthetic dermatofibroma from 3 generators: does any help CNNs?")
    assert "**WGAN-GP** (the study's), **DDPM**, **StyleGAN2-ADA**" in head
    assert words.header({"provenance": p}).startswith("# Synthetic dermatofibroma from a WGAN-GP:")
