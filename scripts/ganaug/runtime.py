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
