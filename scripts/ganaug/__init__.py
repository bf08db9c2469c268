"""ganaug: GAN augmentation for rare skin-lesion detection (the science behind the workflow)."""

__version__ = "0.1.0"
