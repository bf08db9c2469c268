"""Checkpoints: one plain dict, written atomically, loadable with ``weights_only=True``, and the
rule for when an existing one may be resumed.

A checkpoint belongs to one experiment: one training set (its fingerprint, see
``ganaug.data.provenance``) and one set of settings. It is resumed only for that experiment and
only when unfinished, or finished and now asked to go further. Anything else (another split,
other settings, a finished run forced again, an unreadable file) moves it aside under a name that
says why, and training starts fresh; nothing is deleted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ganaug.io import atomic_path

log = logging.getLogger(__name__)


class CheckpointAhead(ValueError):
    """A checkpoint is further along than the configured training length."""


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


def move_aside(path: Path, why: str, iteration: int | None) -> Path:
    """Rename ``path`` to ``<stem>.superseded-<why>-it<N>[.k].pt`` beside it; never overwrite."""
    base = f"{path.stem}.superseded-{why}-it{iteration if iteration is not None else 'unknown'}"
    dest = path.with_name(base + path.suffix)
    k = 1
    while dest.exists():
        dest = path.with_name(f"{base}.{k}{path.suffix}")
        k += 1
    path.rename(dest)
    return dest


def _mismatch(
    state: dict[str, Any], settings: dict[str, Any], training_set: dict[str, Any], family: str
) -> str | None:
    """Why ``state`` belongs to another experiment (a file-name word and an explanation), or None."""
    # a checkpoint of another generator family (ganaug.generators) holds other networks: its
    # weights would fail to load on every retry. Those written before the registry are WGAN-GP's
    other = state.get("family", "wgan_gp")
    if other != family:
        return "other-family", f"it is a checkpoint of the {other} generator, not of {family}"
    recorded = state.get("training_set")
    if not isinstance(recorded, dict) or "digest" not in recorded:
        return "no-training-set-record", "it records no training set (written by an older version)"
    if recorded["digest"] != training_set["digest"]:
        what = "other images" if recorded["ids_sha256"] != training_set["ids_sha256"] else "other pixels"
        return "other-training-set", (
            f"it was trained on another training set ({recorded['n']} images, fingerprint "
            f"{recorded['digest']}, {what}) than the current train split ({training_set['n']} images, "
            f"fingerprint {training_set['digest']})"
        )
    saved = dict(state.get("settings", {}))
    if "device" not in saved and isinstance(state.get("rng"), torch.Tensor):
        # written before the device was recorded: its random stream's state says which (a CPU
        # generator's state is 5,056 bytes, a CUDA one's 16), and a stream of one kind cannot
        # continue on the other (set_state fails on every retry)
        saved["device"] = "cpu" if state["rng"].numel() == torch.Generator().get_state().numel() else "cuda"
        if saved["device"] == "cuda" and saved.get("precision") == "fp32":
            saved["precision"] = "tf32"  # what that version called fp32 on CUDA ran with TF32 on
    diff = [k for k in settings if _norm(saved.get(k)) != _norm(settings[k])]
    if diff:
        why = "other-device" if "device" in diff else "other-settings"
        return why, "it was written with other settings (" + ", ".join(
            f"{'' if k in RUN_KEYS else 'gan.'}{k}: {saved.get(k)!r} -> {settings[k]!r}" for k in diff
        ) + ")"
    return None


RUN_KEYS = ("device", "precision")  # recorded settings that are not gan keys


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list) else v


def resumable_state(
    path: Path,
    settings: dict[str, Any],
    training_set: dict[str, Any],
    total_iterations: int,
    family: str = "wgan_gp",
    length_key: str = "gan.total_iterations",
) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if training should continue from it, else None (start fresh).

    ``settings`` are the values that change the result (compared key by key); ``training_set``
    is the current fingerprint. A checkpoint further along than ``total_iterations`` (the config
    key ``length_key``) is refused; one of another generator ``family`` is moved aside.
    """
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path)
    except Exception as err:  # a torn or foreign file: keep it for inspection, train anew
        dest = move_aside(path, "unreadable", None)
        log.warning(
            "checkpoint %s could not be read (%s): moved to %s; training starts fresh", path, err, dest
        )
        return None
    iteration = int(state["iteration"])
    why = _mismatch(state, settings, training_set, family)
    if why is not None:
        dest = move_aside(path, why[0], iteration)
        log.warning("checkpoint %s not resumed: %s. Moved to %s; training starts fresh", path, why[1], dest)
        return None
    if iteration > total_iterations:
        raise CheckpointAhead(
            f"{path} is at iteration {iteration}, further than {length_key} = {total_iterations}. "
            f"Set {length_key} to at least {iteration} to continue it, or move the file away "
            "to train a shorter run from scratch."
        )
    if state.get("complete") and iteration == total_iterations:
        # the run finished and its outputs were written; running the rule again (-F, --forcerun,
        # or an input that changed but left the training set and settings as they were) asks for
        # a new run, not for the old one's weights
        dest = move_aside(path, "finished", iteration)
        log.warning(
            "checkpoint %s is a finished run of %d iterations: moved to %s; training starts fresh "
            f"(to continue a finished run instead, raise {length_key})",
            path,
            iteration,
            dest,
        )
        return None
    return state
