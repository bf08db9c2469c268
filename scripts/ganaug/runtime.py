"""What every rule script needs: logging into the rule's log file, and the worker count."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def setup_logging(log_file: str | Path | None, level: int = logging.INFO) -> logging.Logger:
    """Send the package's log records (and uncaught errors) to the rule's ``log:`` file and stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logger = logging.getLogger("ganaug")

    def excepthook(kind, value, tb):
        logger.error("failed: %s", value, exc_info=(kind, value, tb))

    sys.excepthook = excepthook
    return logger


def select_device(preference: str) -> "torch.device":  # noqa: UP037 - torch is imported lazily
    """``auto``: CUDA when present, else CPU. ``cuda`` without a GPU is an error, not a fallback."""
    import torch

    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was configured, but torch sees no CUDA device")
    device = torch.device(preference)
    if device.type == "cuda":
        # TF32 matmuls/convolutions on Ampere and newer: ~same accuracy for GAN/CNN training,
        # several times the throughput; cudnn.benchmark picks the fastest kernels for fixed shapes
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return device
