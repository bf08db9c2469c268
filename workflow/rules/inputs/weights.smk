# The input functions of the weights stage's rules (rules/weights.smk): only functions here, so
# that Snakemake's lint finds no file that mixes rules and functions.


def weight_files():
    """The pretrained files this config reads (empty for the demo and the tests)."""
    from ganaug.pretrained import required_files

    return required_files(config)
