"""Choosing the snapshot to resume from (skipping damaged ones), keeping only the newest K, loading G_ema."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from bench.core.errors import UserError
from bench.core.rundir import RunDir
from bench.registry import get_model
from bench.train.options import TrainOptions
from bench.train.state import SnapshotError, UnsafeSnapshotError, load_snapshot

CORRUPT_SUFFIX = ".corrupt"


def set_aside(path: Path) -> Path:
    """Rename a damaged snapshot to `<name>.corrupt`, so it is kept for inspection but never picked again."""
    target = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, target)
    return target


def load_resumable(run: RunDir, snapshot: Path | None, warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """The snapshot to resume from and its contents: the one named, else the newest one that loads.

    A damaged newest snapshot is set aside (renamed `.corrupt`) with a warning and the one before it
    is used. A damaged snapshot named explicitly is an error naming the newest good one instead.
    Unsafe content (pickled objects) is never skipped over silently: it is an error either way.
    """
    if snapshot is not None:
        try:
            return snapshot, _trainable(snapshot, load_snapshot(snapshot))
        except SnapshotError as exc:
            others = [p for p in reversed(run.snapshots()) if p != snapshot]
            good = next((p for p in others if _loads(p)), None)
            hint = f"resume from {good} instead" if good else "the run has no other readable snapshot; start it again"
            raise UserError(f"{exc}; {hint}") from None
    candidates = list(reversed(run.snapshots()))
    if not candidates:
        raise UserError(f"run {run.path} has no snapshot yet; train it again (nothing was saved before it stopped)")
    for path in candidates:
        try:
            return path, _trainable(path, load_snapshot(path))
        except UnsafeSnapshotError:
            raise
        except SnapshotError as exc:
            moved = set_aside(path)
            warn(f"{exc}; set aside as {moved.name}, trying the snapshot before it")
    raise UserError(f"run {run.path}: every snapshot is damaged (set aside as *{CORRUPT_SUFFIX}); start the run again")


def _trainable(path: Path, snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot, unless it holds imported weights only (no optimizer, RNG or data state to continue from)."""
    if "imported_from" in snap:
        raise UserError(
            f"{path} holds weights imported from a checkpoint trained elsewhere (`ladabench import`), "
            "not a training state; evaluate it, or train a new run"
        )
    return snap


def check_fits(path: Path, snap: dict[str, Any], options: TrainOptions) -> None:
    """A UserError unless the snapshot's G, G_ema and D have exactly the weights (names, shapes) these options build.

    Called before anything of the run is rewritten, so a snapshot of another model or preset changes nothing.
    """
    spec = get_model(options.model)
    generator, discriminator = spec.build_models(spec.presets[options.preset])
    expected = {"G": generator.state_dict(), "G_ema": generator.state_dict(), "D": discriminator.state_dict()}
    for part, wanted in expected.items():
        stored = snap.get(part)
        if not isinstance(stored, dict) or _shapes(stored) != _shapes(wanted):
            raise UserError(
                f"snapshot {path} does not fit {options.model} preset {options.preset}: its {part} weights "
                f"differ in names or shapes{_trained_as(snap)}; resume it with the options it was trained with"
            )


def _trained_as(snap: dict[str, Any]) -> str:
    """` (it was trained as MODEL preset PRESET)` from the options a snapshot carries, or '' when it carries none."""
    trained = snap.get("options") if isinstance(snap.get("options"), dict) else {}
    return f" (it was trained as {trained.get('model', '?')} preset {trained.get('preset', '?')})" if trained else ""


def _shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Each entry's shape (None for a non-tensor), for comparing architectures without comparing values."""
    return {k: tuple(v.shape) if hasattr(v, "shape") else None for k, v in state.items()}


def remove_partial_writes(run: RunDir) -> list[Path]:
    """Delete temporary files a killed writer left behind (`.<name>.tmp-<pid>`); call only under the run lock."""
    leftovers = run.partial_writes()
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _loads(path: Path) -> bool:
    """Whether a snapshot loads and verifies."""
    try:
        load_snapshot(path)
    except SnapshotError:
        return False
    return True


def prune(run: RunDir, keep: int, newest: Path) -> list[Path]:
    """Delete all but the `keep` newest snapshots (0 keeps all); `newest`, just written, always stays.

    Returns the deleted paths. Only whole, finished snapshots exist under these names (writes are
    atomic), so what remains is always loadable.
    """
    if keep <= 0:
        return []
    others = [p for p in run.snapshots() if p != newest]
    doomed = others[: max(0, len(others) - (keep - 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def split_resume_path(path: Path, require_snapshot: bool = True) -> tuple[RunDir, Path | None]:
    """`--resume` accepts a run folder or a snapshot file: return (run, snapshot).

    For a folder the snapshot is its latest, or None with `require_snapshot=False` (the caller then
    picks the newest one that loads, see `load_resumable`).
    """
    path = Path(path)
    if path.is_file():
        if not RunDir.is_run(path.parent):  # any file would otherwise be taken for a snapshot
            raise UserError(
                f"--resume {path} is a file outside any run (no options.json beside it); "
                "pass a run folder or one of its snapshot-*.pt files"
            )
        return RunDir(path.parent), path
    if path.is_dir():
        run = RunDir(path)
        return run, run.latest_snapshot() if require_snapshot else None
    raise UserError(f"--resume {path}: no such run folder or snapshot file")


def load_generator(
    run_dir: Path | RunDir, snapshot: Path | None = None, device: str = "cpu"
) -> tuple[nn.Module, TrainOptions, Path]:
    """Rebuild G from the run's options through the registry and load G_ema: (G_ema, options, snapshot_path).

    The generator is returned in eval mode on `device`.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    options = TrainOptions.from_json(run.read_options(), str(run.options_path))
    snapshot = Path(snapshot) if snapshot is not None else run.latest_snapshot()
    spec = get_model(options.model)
    generator, _ = spec.build_models(spec.presets[options.preset])
    try:
        snap = load_snapshot(snapshot)
    except UnsafeSnapshotError:
        raise
    except SnapshotError as exc:
        good = next((p for p in reversed(run.snapshots()) if p != snapshot and _loads(p)), None)
        hint = f"pass --snapshot {good}" if good else "the run has no other readable snapshot"
        raise UserError(f"{exc}; {hint}") from None
    # Shapes first (as resume does): a snapshot of another model is one line, not torch's list of keys.
    stored = snap.get("G_ema")
    if not isinstance(stored, dict) or _shapes(stored) != _shapes(generator.state_dict()):
        raise UserError(
            f"snapshot {snapshot} does not fit {options.model} preset {options.preset} (the run's options.json): "
            f"its G_ema weights differ in names or shapes{_trained_as(snap)}; pass a snapshot of this run"
        )
    generator.load_state_dict(stored)
    return generator.to(device).eval(), options, snapshot
