# The input functions of the curation stage's rules (rules/curation.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def generator_of(sfx):
    """The generator whose curation folders {sfx} names ("" for the study's)."""
    return next(f.name for f in FAMILIES.values() if f.suffix == sfx)


def review_dir(repeat):
    """Where the reviewers' exports of one repeat's review page go (<review.dir>/repeat_<r>)."""
    return f"{config['curation']['review']['dir']}/repeat_{repeat}"


def review_files(wildcards):
    """The reviewers' CSV exports of this page (review.mode: files), as they are now. An empty
    list still plans; the rule then stops with what to do. Adding files later reruns the rule."""
    if config["curation"]["review"]["mode"] != "files":
        return []
    return sorted(str(f) for f in Path(review_dir(wildcards.repeat)).glob("*.csv"))


def review_candidates(*kinds):
    """An input function: each generator's curation files of one repeat that a review rule reads
    (previous_<g>: its LPIPS survivors, raw_<g>, manifest_<g>, blur_<g>, ssim_<g>)."""
    files = {
        "previous": "curation/lpips.csv",
        "raw": "raw",
        "manifest": "raw_manifest.csv",
        "blur": "curation/blur.csv",
        "ssim": "curation/ssim.csv",
    }

    def inputs(wildcards):
        r = rep(wildcards.repeat)
        return {f"{k}_{g.name}": f"{r}/{g.synthetic}/{files[k]}" for g in GENERATORS for k in kinds}

    return inputs
