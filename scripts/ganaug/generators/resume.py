"""When a generator's checkpoint may be resumed.

A checkpoint belongs to one experiment: one generator family, one training set (its fingerprint,
see ``ganaug.data.provenance``) and one set of settings. It is resumed only for that experiment
and only when unfinished, or finished and now asked to go further. Anything else (another family,
split or settings, a finished run forced again, an unreadable file) moves it aside under a name
that says why, and training starts fresh; nothing is deleted. A checkpoint that records no family
(written before the registry) is an error that says how to label it: its family is not guessed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ganaug.training.checkpoints import load_checkpoint

log = logging.getLogger(__name__)


class CheckpointAhead(ValueError):
    """A checkpoint is further along than the configured training length."""


class NoFamily(ValueError):
    """A generator file records no family (written before the registry): it is not guessed."""


def no_family_message(path: str | Path, kind: str) -> str:
    """What to do with a generator file (``kind``: checkpoint, generator) without a family key."""
    return (
        f"{path}: this {kind} records no generator family (it was written before the generator "
        "registry), and a family is not guessed. If you know which family wrote it, label it: "
        f"python -c \"import torch; p = '{path}'; b = torch.load(p, weights_only=True); "
        "b['family'] = '<family>'; torch.save(b, p)\" with <family> one of the registered names "
        "(ganaug.generators.FAMILIES); otherwise move it away and retrain"
    )


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
    state: dict[str, Any], settings: dict[str, Any], training_set: dict[str, Any], family: str, section: str
) -> tuple[str, str] | None:
    """Why ``state`` belongs to another experiment (a file-name word and an explanation), or None."""
    # a checkpoint of another generator family holds other networks: its weights would fail to
    # load on every retry
    other = state["family"]
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
            f"{'' if k in RUN_KEYS else section + '.'}{k}: {saved.get(k)!r} -> {settings[k]!r}" for k in diff
        ) + ")"
    return None


RUN_KEYS = ("device", "precision")  # recorded settings that are not the family's config keys


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple | list) else v


def resumable_state(
    path: Path,
    settings: dict[str, Any],
    training_set: dict[str, Any],
    total_iterations: int,
    family: str,
    section: str,
    length_key: str,
) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if training should continue from it, else None (start fresh).

    ``settings`` are the values that change the result (compared key by key); ``training_set``
    is the current fingerprint. A checkpoint further along than ``total_iterations`` (the config
    key ``length_key``) is refused; one of another generator ``family`` is moved aside; one
    without a family is an error (:class:`NoFamily`). ``section`` is the family's config section,
    which the messages name.
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
    if not isinstance(state, dict) or "family" not in state:
        raise NoFamily(no_family_message(path, "checkpoint"))
    iteration = int(state["iteration"])
    why = _mismatch(state, settings, training_set, family, section)
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
