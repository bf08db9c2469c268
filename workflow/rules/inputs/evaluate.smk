# The input functions of the evaluate stage's rules (rules/evaluate.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def external_significance_inputs():
    """Per external set: its metadata.csv and every fit's predictions of it."""
    out = {}
    for name in config["evaluation"]["external"]:
        out[f"ext_meta_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
        out[f"ext_pred_{name}"] = fit_files(f"external/{name}/predictions.csv")
    return out


def generator_summary_inputs(wildcards):
    """What final_results reads of each generator in use, per repeat, for its "Which generator?"
    section: its metrics.json, its review's Turing test, its training job's benchmark file and
    the snapshot it was sampled from."""
    out = {}
    for g in GENERATORS:
        train = rules.train_gan if g.study else rules.train_generator
        out[f"generator_metrics_{g.name}"] = per_repeat(f"{g.directory}/metrics.json")
        out[f"generator_turing_{g.name}"] = per_repeat(f"{g.synthetic}/curation/review_turing.json")
        out[f"generator_train_{g.name}"] = expand(train.benchmark, repeat=REPEATS, gdir=g.directory)
        out[f"generator_snapshot_{g.name}"] = per_repeat(f"{g.directory}/snapshot.json")
    out["generator_budget"] = BUDGET_JSON  # each family's length and projected GPU time
    return out


def generator_summary_params():
    """Each generator in use (name, label, the conditions that use it, its blur threshold) and
    each synthetic condition's generator, for final_results."""
    conds = CLS["conditions"]
    generator_of = {n: of_condition(c).name for n, c in conds.items() if c["synthetic"] != "none"}
    blur = {g.name: curation_params(config["curation"], "blur", g.name) for g in GENERATORS}
    return {
        "generators": [
            {
                "name": g.name,
                "label": g.label,
                "conditions": [n for n, x in generator_of.items() if x == g.name],
                "blur_threshold": blur[g.name]["blur_threshold"],
                "blur_percentile": blur[g.name]["blur_percentile"],
            }
            for g in GENERATORS
        ],
        "generator_of": generator_of,
    }


def significance_tables(wildcards):
    """The comparison tables and the design table, where evaluation.references names a
    condition to compare with."""
    if not config["evaluation"]["references"]:
        return {}
    return {**STATS_TABLES, "design": DESIGN_TABLE}


def report_inputs(wildcards):
    """Every file the report and the analysis notebooks read: passed to them by name as the
    papermill parameter `paths` (ganaug.notebooks.notebook_paths), so they read nothing else."""
    # one repeat's GAN, curation and data are shown (repeat 0); every fit of every repeat is read
    r0 = {"repeat": 0}
    forest = (
        {"forest": rules.significance.output.forest} if config["evaluation"]["references"] else {}
    )
    return {
        **significance_tables(wildcards),
        **forest,
        "final": rules.final_results.output[0],
        "metadata": expand(rules.split.output.metadata, **r0)[0],
        "data_summary": expand(rules.split.output.summary, **r0)[0],
        "gan_history": expand(rules.train_gan.output.history, **r0)[0],
        "gan_metrics": expand(rules.gan_metrics.output.metrics, **r0)[0],
        "training_curves": expand(rules.train_gan.output.curves, **r0)[0],
        "samples_grid": expand(rules.train_gan.output.grid, **r0)[0],
        "progress_grids": expand(rules.train_gan.output.progress, **r0)[0],
        "real_vs_synthetic": expand(rules.gan_metrics.output.figure, **r0)[0],
        "closest_to_train": expand(rules.gan_metrics.output.closest, **r0)[0],
        "tsne": expand(rules.select_clusters.output.tsne, **r0, sfx="")[0],
        "curation_scores": expand(rules.select_clusters.output.scores, **r0, sfx="")[0],
        # "Which generator?": each generator's closest-to-train pairs (repeat 0), side by side
        **{
            f"closest_to_train_{g.name}": f"{rep(0)}/{g.directory}/closest_to_train.png"
            for g in GENERATORS
        },
        # and each generator's nearest-neighbour gallery (repeat 0)
        **{
            f"nearest_gallery_{g.name}": f"{rep(0)}/{g.directory}/nearest_gallery.png"
            for g in GENERATORS
        },
        "fit_metrics": fit_files("metrics.json"),
        "fit_history": fit_files("history.csv"),
        "fit_predictions": fit_files("predictions.csv"),
        "benchmarks": benchmark_files(),
    }
