"""The classifiers: their registry and how each is built (the generators' networks are in their
families' folders, ``ganaug.generators``)."""
