"""One grid cell as an idempotent job: train (or resume) its run to the budget, evaluate it, record its state.

The same job runs in this process (executor `debug`), in a local worker process or on a SLURM node, and
gives the same run directory. It is safe to run twice: a finished run is not trained again and a final
snapshot already evaluated with the same metric names is not evaluated again; a lock per cell makes a
second grid on the same runs folder wait for the first instead of training the cell twice.

Stopping: the trainer takes SIGTERM and submitit's requeue signal (SIGUSR2) as stop requests, writes a
snapshot and stops. On the requeue signal the job then hands over to submitit, which calls `checkpoint()`
(the same job again: it resumes from that snapshot) and requeues it. On SIGTERM under SLURM (preemption,
`scontrol requeue`, time limit) SLURM requeues the job itself; the job waits for its end with the snapshot
written. Elsewhere a stop is a stop: the job ends as interrupted.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import submitit
import torch
from rich.console import Console

from bench.core.errors import UserError
from bench.core.files import atomic_write_json, read_json
from bench.core.interrupt import Interrupted
from bench.core.rundir import RunDir
from bench.data import load_dataset
from bench.grid.plan import CELLS_FOLDER, Cell, find_cell_run, needs_evaluation
from bench.metrics.evaluate import INIT_SNAPSHOT, evaluate_snapshot
from bench.train.session import Resume, train
from bench.train.trackers import mirror_metrics

REQUEUE_SIGNAL = submitit.JobEnvironment._usr_sig()  # submitit's "checkpoint and requeue" signal (SIGUSR2)
SLURM_KILL_WAIT_S = 600  # waiting for SLURM's kill after a SIGTERM: KillWait is 30 s by default


def utc_now() -> str:
    """The time in UTC, to the second (ISO 8601)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read_record(cell: Cell) -> dict[str, Any] | None:
    """The cell's last recorded state, or None when no job has touched it."""
    try:
        return read_json(cell.record_path)
    except (OSError, ValueError, UserError):
        return None


def write_record(cell: Cell, state: str, **fields: Any) -> None:
    """Record the cell's state (whole file, atomically): what `bench status` and the grid's final table read."""
    cell.record_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(cell.record_path, {"cell": cell.key, "state": state, "updated_utc": utc_now(), **fields})


def first_error_line(exc: BaseException) -> str:
    """The first line of an error as a user reads it (a UserError's message, else 'Type: message')."""
    text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def job_identity() -> dict[str, Any]:
    """Where this job runs: executor, submitit/SLURM job ids, node."""
    env = os.environ
    executor = env.get("SUBMITIT_EXECUTOR") or "debug"
    job_id = None
    if executor in ("slurm", "local"):
        job_id = submitit.JobEnvironment().job_id
    return {
        "executor": executor,
        "job_id": job_id,
        "slurm_job_id": env.get("SLURM_JOB_ID"),
        "slurm_array_job_id": env.get("SLURM_ARRAY_JOB_ID"),
        "slurm_array_task_id": env.get("SLURM_ARRAY_TASK_ID"),
        "node": socket.gethostname(),
        "pid": os.getpid(),
    }


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (waiting for it); the kernel drops it when the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def cell_lock(cell: Cell, log: Any) -> Iterator[None]:
    """Hold the cell's lock (an flock: the kernel drops it when the holder dies, SIGKILL included)."""
    cell.lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cell.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another job holds {cell.lock_path.name}; waiting for it (a second grid on the same runs folder)")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def stop_signals(executor: str) -> tuple[signal.Signals, ...]:
    """The signals that make a cell's training snapshot and stop.

    A local worker leaves SIGINT out (it ignores it: a terminal's Ctrl-C reaches the grid, which stops its
    workers with one SIGTERM each); in this process (debug) Ctrl-C stops training as `ladabench train` does.
    """
    if executor == "local":
        return (signal.SIGTERM, REQUEUE_SIGNAL)
    return (signal.SIGINT, signal.SIGTERM, REQUEUE_SIGNAL)


def guard_signals(executor: str) -> tuple[signal.Signals, ...]:
    """The signals that end a cell at once outside training (SIGINT only in this process: workers ignore it)."""
    return (signal.SIGINT, signal.SIGTERM) if executor == "debug" else (signal.SIGTERM,)


@contextmanager
def stop_raises(signals: tuple[signal.Signals, ...], message: str) -> Iterator[None]:
    """Inside the block the first of `signals` raises Interrupted naming it; later ones wait for the unwinding."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        """Stop here; ignore the same signals while the stack unwinds."""
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        stopped = Interrupted(message)
        stopped.signal_name = signal.Signals(signum).name
        raise stopped

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class CellJob(submitit.helpers.Checkpointable):
    """The callable submitted per cell; `checkpoint()` (from Checkpointable) requeues the same job, which resumes."""

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        """`workers`: jobs side by side (recorded); `threads`: torch threads of this job (None: torch's)."""
        self.workers = workers
        self.threads = threads

    def __call__(self, cell: Cell) -> dict[str, Any]:
        """Run the cell to evaluated; return its run folder. A failure is recorded (first line, log) and re-raised."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        where = {**job_identity(), "workers": self.workers, "threads": torch.get_num_threads()}
        cell.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(cell.log_path, "a", encoding="utf-8") as log_file:
            console = Console(file=log_file, width=120)

            def log(line: str) -> None:
                """A line in the cell's log."""
                console.print(f"[{utc_now()}] {line}", markup=False, highlight=False)

            log(f"cell {cell.key}: job {where['job_id'] or '-'} ({where['executor']}) on {where['node']}")
            try:
                # Outside training (waiting for the lock, opening data, evaluating) a stop ends the cell at once;
                # training installs its own handlers, which stop it after a snapshot.
                with (
                    stop_raises(guard_signals(where["executor"]), f"cell {cell.key} interrupted"),
                    cell_lock(cell, log),
                ):
                    write_record(cell, "running", log=str(cell.log_path), **where)
                    run = self._train(cell, console, where, log)
                    self._evaluate(cell, run, log)
                    write_record(cell, "evaluated", run=str(run.path), log=str(cell.log_path), **where)
                    log(f"cell {cell.key}: evaluated ({', '.join(cell.metric_names)})")
                    return {"cell": cell.key, "run": str(run.path)}
            except Interrupted as exc:
                self._stopped(cell, exc, where, log)
                raise
            except Exception as exc:
                log(traceback.format_exc().rstrip())
                error = first_error_line(exc)
                write_record(cell, "failed", error=error, log=str(cell.log_path), **where)
                raise UserError(f"cell {cell.key} failed: {error} (log {cell.log_path})") from exc

    def _train(self, cell: Cell, console: Console, where: dict[str, Any], log: Any) -> RunDir:
        """Train (or resume) the cell's run to its budget; reuse it when already there."""
        options = cell.train_options()
        run = find_cell_run(Path(cell.runs_dir), options)
        if run is not None and run.images_seen() >= cell.budget_images:
            log(f"cell {cell.key}: reusing {run.path.name} (at its budget)")
            return run
        dataset = load_dataset(options.data, options.data_root)
        resume = Resume(run) if run is not None and run.snapshots() else None
        if resume is not None:
            log(f"cell {cell.key}: resuming {run.path.name} from {run.images_seen()} images")
        trained = train(
            options,
            resume=resume,
            dataset=dataset,
            console=console,
            env_extra={"where": where},
            stop_signals=stop_signals(where["executor"]),
        )
        if trained.images_seen() < cell.budget_images:
            raise UserError(f"training ended at {trained.images_seen()} of {cell.budget_images} images")
        return trained

    def _evaluate(self, cell: Cell, run: RunDir, log: Any) -> None:
        """Metrics at init, at each kept snapshot (curves) and at the end, each once (no partial line on a stop)."""
        names = list(cell.metric_names)
        common = dict(features=cell.features, show_progress=False)
        device = cell.options["device"]
        lines = []  # this call's metric lines, for the run's trackers (--tracker)
        if needs_evaluation(run.path, names, INIT_SNAPSHOT):
            log(f"cell {cell.key}: evaluating G at initialisation")
            # One cell at a time here: the first computes and caches the reference features, the others read them
            # (workers side by side would each compute them).
            with file_lock(Path(cell.runs_dir) / CELLS_FOLDER / "reference.lock"):
                lines += evaluate_snapshot(
                    run.path, INIT_SNAPSHOT, names, device, None, list(cell.sample_seeds), **common
                )
        # With `every_snapshot` each kept snapshot is a point of the learning curves; the final one comes last.
        for snapshot in run.snapshots() if cell.every_snapshot else []:
            if needs_evaluation(run.path, names, snapshot.name):
                log(f"cell {cell.key}: evaluating {snapshot.name}")
                lines += evaluate_snapshot(run.path, snapshot, names, device, None, list(cell.sample_seeds), **common)
        if needs_evaluation(run.path, names):
            log(f"cell {cell.key}: evaluating {run.final_snapshot_name()}")
            lines += evaluate_snapshot(run.path, None, names, device, None, list(cell.sample_seeds), **common)
        mirror_metrics(run.path, cell.options, lines)

    def _stopped(self, cell: Cell, exc: Interrupted, where: dict[str, Any], log: Any) -> None:
        """After a stop with a snapshot: requeue through submitit, wait for SLURM's requeue, or end as interrupted."""
        signal_name = getattr(exc, "signal_name", None)
        run = find_cell_run(Path(cell.runs_dir), cell.train_options())
        if run is not None:
            run.log(f"stopped by {signal_name or 'a signal'} at {run.images_seen()} images ({where['executor']})")
        if signal_name == REQUEUE_SIGNAL.name and where["executor"] in ("slurm", "local"):
            if run is not None:
                run.log(f"requeued through submitit (job {where['job_id']}); the requeued job resumes this run")
            write_record(cell, "requeued", log=str(cell.log_path), **where)
            log(f"cell {cell.key}: requeued on {signal_name}")
            os.kill(os.getpid(), REQUEUE_SIGNAL)  # submitit's own handler: checkpoint(), requeue, exit
            time.sleep(60)  # the handler runs at once and exits; this is never reached in practice
        elif where["executor"] == "slurm" and signal_name in (None, "SIGTERM"):
            if run is not None:
                run.log(f"SLURM job {where['job_id']} ends (preemption, requeue or time limit); a requeue resumes it")
            write_record(cell, "requeued", log=str(cell.log_path), **where)
            log(f"cell {cell.key}: stopped by SIGTERM under SLURM; waiting for the requeue")
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(SLURM_KILL_WAIT_S)  # no result file: a result would end the job for submitit before the requeue
        write_record(cell, "interrupted", log=str(cell.log_path), **where)
