"""Checkpoints: one plain dict, written atomically, loadable with ``weights_only=True``, and the
global random state a resumed run restores. When a generator's checkpoint may be resumed is
``ganaug.generators.resume``'s rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganaug.io import atomic_path


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """torch.save to a temporary file, then os.replace: a crash never leaves half a checkpoint.
    Through a file object, so the zip's record prefix is torch's fixed "archive/" rather than the
    temporary file's random name: a rerun writes the same bytes (measured: every model.pt and
    generator.pt of two demo runs differed in that prefix alone)."""
    with atomic_path(path, suffix=".tmp") as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    # weights_only: tensors, numbers, strings, lists and dicts only; nothing gets executed
    return torch.load(path, map_location="cpu", weights_only=True)


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
