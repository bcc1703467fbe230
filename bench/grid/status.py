"""The state of a grid's cells, read from its runs folder (and `squeue` for SLURM jobs); never writes.

Sources, in order: the run folder matched by the cell's options (images seen, metric lines), the
cell's lock (held: a live job works on it), the record its job wrote (failed: the first error line
and the log), and the scheduler's state of its SLURM job when `squeue` answers. Safe to read while a
grid runs, locally or from a login node.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.files import atomic_write_json, read_json
from bench.grid.cell import read_record, utc_now
from bench.grid.plan import Cell, cell_evaluated, find_cell_run
from bench.grid.protocol import QUICK

MANIFESTS_FOLDER = "grids"  # <runs>/grids/<grid>.json: the cells of a grid and where their jobs went
STATES = ("pending", "running", "done", "evaluated", "failed")
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESIZING"}


def manifest_path(runs_dir: Path, grid: str) -> Path:
    """Where a grid's manifest lives in its runs folder."""
    return Path(runs_dir) / MANIFESTS_FOLDER / f"{grid}.json"


def write_manifest(runs_dir: Path, grid: str, cells: list[Cell], fields: dict[str, Any]) -> Path:
    """Record a grid's cells (and executor, job ids, report command) for `bench status` and `--report-only`."""
    path = manifest_path(runs_dir, grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        path, {"grid": grid, "updated_utc": utc_now(), **fields, "cells": [cell.to_json() for cell in cells]}
    )
    return path


def read_manifests(runs_dir: Path) -> list[dict[str, Any]]:
    """Every grid manifest in a runs folder (name order); a UserError when there is none."""
    folder = Path(runs_dir) / MANIFESTS_FOLDER
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not paths:
        raise UserError(
            f"{runs_dir} holds no grid (no {MANIFESTS_FOLDER}/*.json); pass the --runs-dir of a "
            f"`ladabench bench` grid (default {QUICK.runs_folder})"
        )
    return [read_json(p) for p in paths]


@dataclass
class CellStatus:
    """One cell as `bench status` and a grid's final table show it."""

    cell: Cell
    state: str
    images_seen: int = 0
    img_per_sec: float | None = None
    run: Path | None = None
    job_id: str | None = None
    scheduler_state: str | None = None
    error: str | None = None
    log: str | None = None

    @property
    def kimg(self) -> float:
        """Images seen in kimg."""
        return self.images_seen / 1000

    @property
    def eta_s(self) -> float | None:
        """Seconds of training left at the last tick's rate (running cells only)."""
        if self.state != "running" or not self.img_per_sec:
            return None
        return max(0, self.cell.budget_images - self.images_seen) / self.img_per_sec


def lock_held(cell: Cell) -> bool:
    """Whether a live job holds the cell's lock (tested with a shared, non-blocking flock: nothing is written)."""
    try:
        fd = os.open(cell.lock_path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if we took it
    return False


def scheduler_states(job_ids: list[str]) -> dict[str, str]:
    """SLURM state per job id ('123_4' for array tasks) from `squeue`; empty when it does not answer."""
    ids = sorted({j.split("_")[0] for j in job_ids if j})
    if not ids or shutil.which("squeue") is None:
        return {}
    try:
        done = subprocess.run(
            ["squeue", "-h", "-r", "--states=all", "-o", "%i %T", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def cell_status(cell: Cell, job_id: str | None = None, scheduler: dict[str, str] | None = None) -> CellStatus:
    """The cell's state from its run folder, lock, record and scheduler state."""
    record = read_record(cell) or {}
    job_id = job_id or record.get("job_id")
    status = CellStatus(cell, "pending", job_id=job_id, log=record.get("log"))
    status.scheduler_state = (scheduler or {}).get(job_id) if job_id else None
    run = find_cell_run(Path(cell.runs_dir), cell.train_options())
    if run is not None:
        stats = run.read_stats()
        status.run = run.path
        status.images_seen = stats[-1].images_seen if stats else 0
        status.img_per_sec = stats[-1].img_per_sec if stats else None
    busy = lock_held(cell)
    trained = run is not None and status.images_seen >= cell.budget_images
    if trained and cell_evaluated(cell, run):
        status.state = "evaluated"
    elif busy or status.scheduler_state in ("RUNNING", "COMPLETING"):
        status.state = "running"
    elif record.get("state") == "failed":
        status.state, status.error = "failed", record.get("error")
    elif trained:
        status.state = "done"
    return status


def grid_statuses(manifest: dict[str, Any], ask_scheduler: bool = True) -> list[CellStatus]:
    """Every cell of a grid manifest with its state (SLURM states when the grid went to SLURM)."""
    jobs: dict[str, str] = manifest.get("job_ids") or {}
    scheduler = scheduler_states(list(jobs.values())) if ask_scheduler and manifest.get("executor") == "slurm" else {}
    cells = [Cell.from_json(c) for c in manifest["cells"]]
    return [cell_status(cell, jobs.get(cell.key), scheduler) for cell in cells]


def clock(seconds: float | None) -> str:
    """H:MM:SS, or '-' when unknown."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status_rows(statuses: list[CellStatus]) -> list[dict[str, str]]:
    """The table rows of `bench status` (one per cell, all text)."""
    rows = []
    for s in statuses:
        budget = s.cell.budget_images / 1000
        detail = s.error and f"{s.error} (log {s.log})" or (s.run.name if s.run else "")
        rows.append(
            {
                "cell": s.cell.key,
                "state": s.state,
                "kimg": f"{s.kimg:g}/{budget:g}",
                "img/s": "-" if s.img_per_sec is None else f"{s.img_per_sec:.1f}",
                "ETA": clock(s.eta_s),
                "job": s.job_id or "-",
                "scheduler": s.scheduler_state or "-",
                "run / error": detail,
            }
        )
    return rows
