"""What every generator family's training loop needs, written once: the output paths, the endless
sampler, SIGTERM and preemption, the checkpoint cadence and the final complete checkpoint, and
the progress grids.

A family's trainer holds its own networks, optimisers and random stream, and :func:`run` drives
it to its training length:

- ``trainer.resume()`` continues from the checkpoint when it belongs to this very experiment
  (``ganaug.generators.resume``); a fresh run's old TensorBoard files are cleared;
- each unit of training (an iteration, a step) is ``trainer.advance(it)``, which returns what the
  progress bar shows, or None;
- a checkpoint every ``trainer.cfg.checkpoint_interval``, at the last unit (unfinished) and when
  SIGTERM arrives (how SLURM preempts), after which the job stops with :class:`Preempted`;
- ``trainer.finish()`` writes the outputs under the handler (a SIGTERM then waits until they are
  written), and only then is the final checkpoint marked complete;
- with ``out.snapshots`` set, the sampling weights (``trainer.generator_blob``) are kept at
  ``count`` evenly spaced units, the last the final weights, and listed in ``snapshots.csv``:
  the rule select_snapshot samples each and keeps the best by KID against the validation DF
  images (``ganaug.generators.snapshots``). A snapshot is written just before the checkpoint of
  its unit, so a resumed run has every snapshot up to where it resumes and rewrites the rest.

So a run killed at any point and resumed ends bit-identical on the CPU to one that never
stopped (each family tests it), and a finished run rerun by force retrains rather than reusing
weights.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch

from ganaug.io import atomic_path, clear_event_files, write_csv
from ganaug.training.checkpoints import save_checkpoint
from ganaug.viz import montage


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; training stops rather than write garbage."""


class SnapshotsMissing(RuntimeError):
    """A resumed run lacks snapshots it cannot make again; its checkpoint was moved aside."""


class Preempted(RuntimeError):
    """SIGTERM arrived (how SLURM preempts); a checkpoint was written before stopping."""


@dataclass(frozen=True)
class GeneratorOutputs:
    checkpoint: Path  # last.pt: resumed from when it exists
    generator: Path  # weights only, for sampling
    history: Path  # history.csv
    curves: Path  # training_curves.png
    grid: Path  # samples_grid.png
    samples_dir: Path  # a grid every sample_interval
    tensorboard: Path  # TensorBoard event files
    progress: Path | None = None  # the grids of samples_dir side by side: training at a glance
    snapshots: Snapshots | None = None  # the weights kept along the way (None: none kept)

    @classmethod
    def of(cls, *paths: str | Path | None, snapshots: Snapshots | None = None) -> GeneratorOutputs:
        return cls(*(None if p is None else Path(p) for p in paths), snapshots=snapshots)

    @classmethod
    def in_folder(cls, root: str | Path) -> GeneratorOutputs:
        """Every output under one folder (benchmarks, checks): a trainer that never writes gets
        one that does not exist."""
        names = ("last.pt", "generator.pt", "history.csv", "curves.png", "grid.png", "samples", "tensorboard")
        return cls(*(Path(root) / n for n in names))


@dataclass(frozen=True)
class Snapshots:
    """Where the snapshots go: ``folder/<unit>.pt`` (not a rule output: like the checkpoint, they
    must survive a preempted job), listed in ``index`` (the rule's output) when training ends."""

    folder: Path
    index: Path
    count: int  # evenly spaced over the training length; the last is the final weights

    @classmethod
    def of(cls, folder: str | Path, index: str | Path, count: int) -> Snapshots:
        return cls(Path(folder), Path(index), int(count))

    def units(self, total: int) -> list[int]:
        """The units a snapshot is kept at: ceil(k * total / count) for k = 1..count (fewer when
        the training is shorter than ``count`` units)."""
        return sorted({-(-k * total // self.count) for k in range(1, self.count + 1)})

    def path(self, unit: int) -> Path:
        return self.folder / f"{unit:08d}.pt"

    def clear(self, after: int) -> None:
        """Remove the snapshots past unit ``after`` (0: all): a fresh run's, or what a killed run
        kept beyond the checkpoint it resumes from (rewritten as it gets there again)."""
        for f in sorted(self.folder.glob("*.pt")) if self.folder.is_dir() else []:
            if f.stem.isdigit() and int(f.stem) > after:
                f.unlink()

    def check_resumable(self, start: int, total: int, checkpoint: Path) -> None:
        """A run resumed at ``start`` must have every snapshot up to there: one whose checkpoint was
        written with other snapshot units (another count or length, or before snapshots were kept)
        cannot make them again. Its checkpoint is moved aside and the job stops at once, before
        any training, saying so; the rerun trains from the start."""
        missing = [u for u in self.units(total) if u <= start and not self.path(u).is_file()]
        if not missing:
            return
        aside = checkpoint.with_name(f"{checkpoint.stem}.superseded-snapshots-it{start}{checkpoint.suffix}")
        checkpoint.replace(aside)
        raise SnapshotsMissing(
            f"{checkpoint} (at {start}) was written with other snapshot units: those at "
            f"{', '.join(map(str, missing))} do not exist in {self.folder}; the checkpoint was moved "
            f"to {aside.name}: rerun the job to train from the start"
        )

    def write_index(self, total: int, unit: str) -> pd.DataFrame:
        units = self.units(total)
        missing = [str(self.path(u)) for u in units if not self.path(u).is_file()]
        if missing:
            raise FileNotFoundError(f"snapshots missing after training: {', '.join(missing)}")
        table = pd.DataFrame(
            {"snapshot": range(len(units)), unit: units, "path": [str(self.path(u)) for u in units]}
        )
        write_csv(table, self.index)
        return table


class EndlessSampler:
    """Batches of indices forever: a new random permutation each pass; the remainder of a pass
    that is smaller than a batch is skipped so every batch has ``batch_size`` distinct images."""

    def __init__(self, n: int, batch_size: int, g: torch.Generator, section: str = "the generator's"):
        if n < batch_size:
            raise ValueError(
                f"only {n} minority training images for a batch size of {batch_size}: lower "
                f"{section}.batch_size or add images"
            )
        self.n, self.batch_size, self.g = n, batch_size, g
        self.perm = torch.randperm(n, generator=g, device=g.device)  # on the generator's device
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.g, device=self.g.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm, self.pos = state["perm"].clone(), int(state["pos"])


class SigtermFlag:
    """Turns SIGTERM into a flag the loop checks after each unit of training."""

    def __init__(self) -> None:
        self.raised = False
        self._old: Any = None

    def __enter__(self) -> SigtermFlag:
        with contextlib.suppress(ValueError):  # not in the main thread: no handler
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 5) -> None:
    """Images in [-1, 1] as one PNG grid, written atomically."""
    from PIL import Image
    from torchvision.utils import make_grid

    grid = make_grid(images.float().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


def progress_montage(out: GeneratorOutputs, unit: str) -> None:
    """The grids of ``out.samples_dir`` side by side, each labelled with its ``unit`` count."""
    if out.progress is None:
        return

    grids = sorted(out.samples_dir.glob("iter_*.png"))
    montage(grids, [g.stem.replace("iter_", f"{unit} ").lstrip("0") for g in grids], out.progress)


class Trainer(Protocol):
    """What :func:`run` asks of a family's trainer."""

    cfg: Any  # its config: checkpoint_interval
    out: GeneratorOutputs
    start: int  # the last unit done (0: a fresh run), set by resume()

    def resume(self) -> None: ...
    def session(self) -> contextlib.AbstractContextManager: ...  # open for the whole loop
    def advance(self, it: int) -> dict[str, str] | None: ...  # one unit; the bar's postfix
    def checkpoint(self, it: int, complete: bool = False) -> None: ...
    def generator_blob(self, it: int) -> dict: ...  # what generator.pt holds, at unit it
    def finish(self) -> pd.DataFrame: ...  # every output; the history


def run(trainer: Trainer, total: int, desc: str, unit: str, progress: bool = True) -> pd.DataFrame:
    """Train (or resume) ``trainer`` to ``total`` units (``unit``: "iteration", "step"); write
    every output; return the history."""
    from tqdm import tqdm

    out, every = trainer.out, trainer.cfg.checkpoint_interval
    snaps = out.snapshots
    keep = set(snaps.units(total)) if snaps else set()
    trainer.resume()
    if trainer.start == 0:  # a fresh run: the curves of an earlier one would be drawn beside its own
        clear_event_files(out.tensorboard)
    if snaps:
        snaps.clear(after=trainer.start)
        snaps.check_resumable(trainer.start, total, out.checkpoint)
    bar = tqdm(
        total=total, initial=trainer.start, desc=desc, unit=unit[:4], mininterval=5, disable=not progress
    )
    with SigtermFlag() as sigterm, trainer.session(), bar:
        for it in range(trainer.start + 1, total + 1):
            postfix = trainer.advance(it)
            if postfix:
                bar.set_postfix(postfix)
            bar.update(1)
            if it in keep:  # before its checkpoint: a run resumed past it has it
                save_checkpoint(trainer.generator_blob(it), snaps.path(it))
            # the last unit is checkpointed too, unfinished: a signal or a kill while the outputs
            # are written then loses no training (the rerun resumes there and only writes)
            if it % every == 0 or it == total or sigterm.raised:
                trainer.checkpoint(it)
            if sigterm.raised:
                raise Preempted(f"SIGTERM at {unit} {it}: checkpoint written to {out.checkpoint}")
        # still under the handler: a SIGTERM now waits until every output is written. The job
        # then still fails (the executor asked it to stop, and may count it failed and remove
        # its outputs anyway), with the checkpoint at the last unit left unfinished: the rerun
        # resumes there and only writes the outputs again, it does not retrain
        hist = trainer.finish()
        if snaps:
            snaps.write_index(total, unit)
        if sigterm.raised:
            raise Preempted(
                f"SIGTERM while the outputs were written: they were finished first; the checkpoint "
                f"{out.checkpoint} at {unit} {total} lets a rerun rewrite them without training"
            )
        trainer.checkpoint(total, complete=True)
    return hist
