"""Data: ISIC readers, the phantom generator, preprocessing, splits and downloads."""
