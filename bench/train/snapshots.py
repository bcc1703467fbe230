"""Choosing the snapshot to resume from (skipping damaged ones) and keeping only the newest K."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.train.rundir import snapshots
from bench.train.state import SnapshotError, UnsafeSnapshotError, load_snapshot

CORRUPT_SUFFIX = ".corrupt"
DEFAULT_KEEP_SNAPSHOTS = 3


def set_aside(path: Path) -> Path:
    """Rename a damaged snapshot to `<name>.corrupt`, so it is kept for inspection but never picked again."""
    target = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, target)
    return target


def load_resumable(run_dir: Path, snapshot: Path | None, warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """The snapshot to resume from and its contents: the one named, else the newest one that loads.

    A damaged newest snapshot is set aside (renamed `.corrupt`) with a warning and the one before it
    is used. A damaged snapshot named explicitly is an error naming the newest good one instead.
    Unsafe content (pickled objects) is never skipped over silently: it is an error either way.
    """
    if snapshot is not None:
        try:
            return snapshot, load_snapshot(snapshot)
        except SnapshotError as exc:
            others = [p for p in reversed(snapshots(run_dir)) if p != snapshot]
            good = next((p for p in others if _loads(p)), None)
            hint = f"resume from {good} instead" if good else "the run has no other readable snapshot; start it again"
            raise UserError(f"{exc}; {hint}") from None
    candidates = list(reversed(snapshots(run_dir)))
    if not candidates:
        raise UserError(f"run {run_dir} has no snapshot yet; train it again (nothing was saved before it stopped)")
    for path in candidates:
        try:
            return path, load_snapshot(path)
        except UnsafeSnapshotError:
            raise
        except SnapshotError as exc:
            moved = set_aside(path)
            warn(f"{exc}; set aside as {moved.name}, trying the snapshot before it")
    raise UserError(f"run {run_dir}: every snapshot is damaged (set aside as *{CORRUPT_SUFFIX}); start the run again")


def remove_partial_writes(run_dir: Path) -> list[Path]:
    """Delete temporary files a killed writer left behind (`.<name>.tmp-<pid>`); call only under the run lock."""
    leftovers = sorted(Path(run_dir).glob(".*.tmp-*"))
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


def prune(run_dir: Path, keep: int, newest: Path) -> list[Path]:
    """Delete all but the `keep` newest snapshots (0 keeps all); `newest`, just written, always stays.

    Returns the deleted paths. Only whole, finished snapshots exist under these names (writes are
    atomic), so what remains is always loadable.
    """
    if keep <= 0:
        return []
    others = [p for p in snapshots(run_dir) if p != newest]
    doomed = others[: max(0, len(others) - (keep - 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
