"""Evaluation: classification metrics (and, later, GAN metrics and statistical tests)."""
