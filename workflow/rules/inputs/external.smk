# The input functions of the external stage's rules (rules/external.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def external_archives():
    """What an external set is cleared against: the training archive, and the real_extra
    control's extra real images (training images too) where there are any."""
    extra = [f"{RESULTS}/data/extra/metadata.csv"] if EXTRA is not None else []
    return [f"{RESULTS}/data/preprocessed.csv", *extra]


def external_archive_hashes():
    """The perceptual hashes an external set is screened against: the archive's, and the extra
    pool's where there is one."""
    extra = [f"{RESULTS}/data/extra/hashes.npz"] if EXTRA is not None else []
    return [f"{RESULTS}/data/hashes.npz", *extra]


def external_raw(*roles):
    """An input function for one external set's raw files (only ever read)."""

    def inputs(wildcards):
        src = EXT_SOURCES[wildcards.ext]
        if src.missing:
            raise WorkflowError("external test set not found:\n  - " + "\n  - ".join(src.missing))
        return {k: v for k, v in src.paths().items() if k in roles}

    return inputs
