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


def page_until_reviewed(wildcards):
    """The review page, as an input of ingest_reviews while review.mode is files and the page has
    no exports yet: the page is then built first, and the rule stops with what to do. Once the
    exports are there the page is no input, so rebuilding it for one generator reruns no other's
    review."""
    if config["curation"]["review"]["mode"] != "files" or review_files(wildcards):
        return []
    return f"{rep(wildcards.repeat)}/review/index.html"


def review_parts(wildcards):
    """Each generator's part of one repeat's review page: its key (key_<g>) and raw set (raw_<g>)."""
    r = rep(wildcards.repeat)
    return {
        f"{k}_{g.name}": f"{r}/{g.synthetic}/{f}"
        for g in GENERATORS
        for k, f in (("key", "curation/review_key.csv"), ("raw", "raw"))
    }
