# The input functions of the data stage's rules (rules/data.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def raw_data(*roles):
    """An input function for the raw files of ``roles``: generated (phantom), downloaded, or the
    user's own (only ever read). Missing files are reported only when a data rule is needed."""

    def inputs(wildcards):
        if SOURCE.origin == "user" and SOURCE.missing:
            raise WorkflowError(missing_data_message(SOURCE))
        return {k: v for k, v in SOURCE.paths().items() if k in roles}

    return inputs


def download_status():
    """Why the ISIC 2019 download has nothing to fetch (logged when it is run anyway)."""
    if SOURCE.origin == "user" and SOURCE.missing:
        return f"data.download is false; {missing_data_message(SOURCE)}"
    return f"the data are read from {SOURCE.images} ({SOURCE.origin} files)"


def archive_extra_output():
    """download_archive_extra's output: the pool's folder while it is missing, else nothing."""
    if DATA["archive_extra"] is None or Path(ARCHIVE_EXTRA_DIR).exists():
        return {}
    return {"images": protected(directory(ARCHIVE_EXTRA_DIR))}


def phantom_extra_output():
    """make_phantom's folder of extra DF images, when the phantom makes any."""
    ph = DATA["phantom"]
    return {"extra": directory(EXTRA)} if ph is not None and EXTRA is not None else {}


def attribution_inputs(wildcards):
    """What attribution.csv lists: the archive's images, each external set's kept images, the
    extra pool's."""
    out = {"archive": f"{RESULTS}/data/preprocessed.csv"}
    for name in EXTERNAL:
        out[f"ext_table_{name}"] = f"{RESULTS}/external/{name}/preprocessed.csv"
        out[f"ext_meta_{name}"] = f"{RESULTS}/external/{name}/metadata.csv"
    if EXTRA is not None:
        out["extra"] = f"{RESULTS}/data/extra/metadata.csv"
    return out


def same_lesion_inputs(wildcards):
    """same_lesion's inputs: the preprocessed table, the archive's hashes when it is screened, and
    the user's own lists of pairs (only ever read)."""
    found = DATA["same_lesion"]
    out = {"table": f"{RESULTS}/data/preprocessed.csv", "lists": found["lists"]}
    if found["screen"]:
        out["hashes"] = f"{RESULTS}/data/hashes.npz"
    return out
