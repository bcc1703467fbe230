"""Run a grid plan: check it, skip what is done, hand the other cells to an executor, follow them, profile.

The report itself is written by the command from the run folders (`bench.commands.bench`), so it does
not care where a cell ran. A failing cell ends only itself; the grid's outcome lists every cell as
evaluated, failed (first error line, log) or pending, and the same command again runs only those.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.core.files import read_json
from bench.core.progress import LoggedProgress
from bench.core.records import ProfileFile
from bench.grid.executors import (
    POLL_S,
    SUBMITIT_FOLDER,
    ExecutorOptions,
    check_executor,
    local_layout,
    record_lost,
    run_debug,
    run_local,
    submit_slurm_array,
)
from bench.grid.plan import Cell, GridPlan, check_plan, plan_cells
from bench.grid.status import QUEUED, CellStatus, cell_status, manifest_path, scheduler_states, write_manifest
from bench.metrics.attention_scaling import attention_scaling
from bench.metrics.profile import profile_model

SCALING_REPEATS = 10
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@dataclass
class GridOutcome:
    """Where a grid stands after the command: every cell's status, and the SLURM jobs when it submitted."""

    statuses: list[CellStatus]
    dataset: Any
    job_ids: dict[str, str] = field(default_factory=dict)
    submitted_only: bool = False  # SLURM without --wait: the jobs run on

    @property
    def failed(self) -> list[CellStatus]:
        """The cells that failed."""
        return [s for s in self.statuses if s.state == "failed"]

    @property
    def complete(self) -> bool:
        """Whether every cell is trained and evaluated (the report can be written)."""
        return all(s.state == "evaluated" for s in self.statuses)


class GridProgress:
    """Progress lines from the run folders: cells evaluated of all, and images seen of each running cell."""

    def __init__(self, name: str, cells: list[Cell], console: Console) -> None:
        """One overall task; a task per cell appears when the cell starts training."""
        columns = (TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress: Progress = LoggedProgress(*columns, console=console)
        self.cells = cells
        self.overall = self.progress.add_task(f"{name}: {len(cells)} cells evaluated", total=len(cells), eta=False)
        self.tasks: dict[str, Any] = {}

    def poll(self) -> None:
        """Read every cell's state once and update the lines."""
        statuses = [cell_status(cell) for cell in self.cells]
        for s in statuses:
            if s.state in ("running", "done", "evaluated") and s.images_seen > 0 and s.cell.key not in self.tasks:
                self.tasks[s.cell.key] = self.progress.add_task(
                    f"train {s.cell.key} (img)", total=s.cell.budget_images, eta=True
                )
            if s.cell.key in self.tasks:
                self.progress.update(self.tasks[s.cell.key], completed=s.images_seen)
        self.progress.update(self.overall, completed=sum(s.state == "evaluated" for s in statuses))

    def __enter__(self) -> GridProgress:
        """Show the progress."""
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        """Stop showing it."""
        self.progress.__exit__(*exc)


def pending_cells(cells: list[Cell], runs_dir: Path, grid: str) -> tuple[list[Cell], dict[str, str]]:
    """The cells to run now, and the SLURM jobs of an earlier submission that still hold the others.

    Evaluated cells are skipped; a cell whose job of an earlier submission is still queued or running
    is not submitted again.
    """
    earlier: dict[str, str] = {}
    path = manifest_path(runs_dir, grid)
    if path.is_file():
        old = read_json(path)
        if old.get("executor") == "slurm":
            jobs = old.get("job_ids") or {}
            states = scheduler_states(list(jobs.values()))
            earlier = {k: j for k, j in jobs.items() if states.get(j) in QUEUED | {"RUNNING", "COMPLETING"}}
    todo = [c for c in cells if c.key not in earlier and cell_status(c).state != "evaluated"]
    return todo, earlier


def slurm_job_ended(job: Any, states: dict[str, str]) -> bool:
    """Whether a SLURM task of the array has ended (its result file, or squeue's final state or silence)."""
    if job.paths.result_pickle.exists():
        return True
    state = states.get(job.job_id)
    return state is None or state in ENDED


def follow_slurm(jobs: list[Any], on_poll: Any) -> None:
    """Wait for every job of the array to end, with progress lines (squeue, not sacct: it needs no accounting)."""
    unseen_grace_s = 30.0  # a just-submitted job may not be listed yet
    started = time.monotonic()
    while True:
        on_poll()
        states = scheduler_states([job.job_id for job in jobs])
        if time.monotonic() - started > unseen_grace_s or states:
            if all(slurm_job_ended(job, states) for job in jobs):
                return
        time.sleep(POLL_S)


def run_cells(plan: GridPlan, executor: ExecutorOptions, console: Console, report_command: str = "") -> GridOutcome:
    """Check the plan, run (or submit) the cells not yet evaluated, and return every cell's status."""
    check_executor(executor)
    dataset = check_plan(plan)
    cells = plan_cells(plan, dataset)
    runs_dir = plan.runs_dir
    todo, earlier = pending_cells(cells, runs_dir, plan.name)
    workers, threads = local_layout(executor, plan.device, len(todo))
    if executor.kind != "local":
        workers, threads = 1, executor.threads
    manifest = {
        "executor": executor.kind,
        "workers": workers,
        "threads": threads,
        "command": plan.command,
        "report_command": report_command,
        "job_ids": dict(earlier),
    }
    write_manifest(runs_dir, plan.name, cells, manifest)
    if todo:
        console.print(
            f"{len(todo)} of {len(cells)} cells to run ({executor.kind}"
            + (f", {workers} workers x {threads or 'default'} threads" if executor.kind == "local" else "")
            + ")"
        )
    folder = runs_dir.resolve() / SUBMITIT_FOLDER
    with GridProgress(plan.name, cells, console) as progress:
        if executor.kind == "debug":
            run_debug(todo, threads, progress.poll)
        elif executor.kind == "local" and todo:
            manifest["job_ids"].update(run_local(todo, folder, workers, threads, plan.device, progress.poll))
        elif executor.kind == "slurm" and todo:
            jobs = submit_slurm_array(todo, folder, executor)
            manifest["job_ids"].update({cell.key: job.job_id for cell, job in zip(todo, jobs, strict=True)})
            write_manifest(runs_dir, plan.name, cells, manifest)
            if not executor.wait:
                return GridOutcome([cell_status(c) for c in cells], dataset, manifest["job_ids"], True)
            follow_slurm(jobs, progress.poll)
            states = scheduler_states([job.job_id for job in jobs])
            for cell, job in zip(todo, jobs, strict=True):
                if not job.paths.result_pickle.exists():
                    state = states.get(job.job_id, "gone from the queue")
                    record_lost(cell, f"SLURM job {job.job_id} ended ({state})", job.paths.stderr)
        elif executor.kind == "slurm" and earlier and executor.wait:
            follow_slurm([], progress.poll)
        progress.poll()
    write_manifest(runs_dir, plan.name, cells, manifest)
    jobs = manifest["job_ids"]
    scheduler = scheduler_states(list(jobs.values())) if executor.kind == "slurm" else {}
    statuses = [cell_status(c, jobs.get(c.key), scheduler) for c in cells]
    return GridOutcome(statuses, dataset, jobs)


def profile_models(plan: GridPlan, resolution: int, console: Console) -> list[Path]:
    """Profile every model of the grid (counts + speed) and one attention layer per kind; return the JSON files."""
    columns = (TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    rows = []
    with LoggedProgress(*columns, console=console) as progress:
        task = progress.add_task("profile", total=len(plan.models) + bool(plan.scaling_tokens), eta=False)
        for model in plan.models:
            progress.update(task, description=f"profile {model}")
            batch = plan.batch if plan.device != "cpu" else None
            rows.append(
                profile_model(
                    model,
                    plan.preset_arg,
                    resolution,
                    batch,
                    device=plan.device,
                    repeats=plan.profile_repeats,
                    warmup=1,
                )
            )
            progress.advance(task)
        stem = plan.report.with_suffix("")
        paths = [ProfileFile(rows=rows).write(stem.with_name(f"{stem.name}-profile.json"))]
        if plan.scaling_tokens:
            progress.update(task, description="attention scaling")
            # One layer is cheap at these token counts: the benchmark's own repeat count keeps the median steady.
            scaling = attention_scaling(
                tuple(plan.scaling_tokens),
                dim=128,
                heads=4,
                device=plan.device,
                repeats=max(plan.profile_repeats, SCALING_REPEATS),
                warmup=2,
            )
            paths.append(ProfileFile(scaling=scaling).write(stem.with_name(f"{stem.name}-attention-scaling.json")))
            progress.advance(task)
    return paths
