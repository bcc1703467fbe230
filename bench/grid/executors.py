"""Where a grid's cells run, through submitit: in this process (`debug`), local worker processes, a SLURM job array.

Every executor runs the same `CellJob` on the same cells, so where a cell ran does not change its run
directory (bitwise with --deterministic at a fixed thread count); the run's env.json records where.
Input is checked before anything is written or submitted: one line naming the input and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from bench.core.errors import UserError
from bench.core.interrupt import Interrupted
from bench.grid.cell import CellJob, read_record, write_record
from bench.grid.plan import Cell

EXECUTORS = ("local", "slurm", "debug")
SUBMITIT_FOLDER = "submitit"  # <runs>/submitit/: submitit's pickles and each job's stdout/stderr
POLL_S = 2.0  # how often a waiting grid looks at its jobs and run folders
STOP_WAIT_S = 300  # how long a stopped local grid waits for its workers to write their snapshots


@dataclass(frozen=True)
class ExecutorOptions:
    """How to run a grid's cells: the executor and its resources (SLURM options only with `slurm`)."""

    kind: str = "local"
    workers: int | None = None  # local: processes side by side (default: from the machine)
    threads: int | None = None  # torch threads per job (default: 1 per local CPU worker, else torch's)
    partition: str | None = None
    time_min: int = 24 * 60
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    array_parallelism: int | None = None
    sbatch: tuple[str, ...] = ()  # extra sbatch flags, KEY=VALUE
    wait: bool = False


SLURM_ONLY = {  # ExecutorOptions field -> its flag: read only by the slurm executor
    "partition": "--partition",
    "time_min": "--time-min",
    "gpus_per_task": "--gpus-per-task",
    "cpus_per_task": "--cpus-per-task",
    "mem_gb": "--mem-gb",
    "array_parallelism": "--array-parallelism",
    "sbatch": "--sbatch",
    "wait": "--wait",
}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ExecutorOptions)}


def cpu_cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def visible_gpus() -> int:
    """CUDA devices visible to this process (0 without CUDA)."""
    import torch  # start-up: torch only when a grid runs

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_layout(options: ExecutorOptions, device: str, cells: int) -> tuple[int, int | None]:
    """(workers, threads per worker) of the local executor.

    CUDA: one worker per visible GPU. CPU: one worker per core, one torch thread each (docs/cluster.md: tiny
    models do not keep two threads busy, so a second core is better spent on a second run).
    """
    if device.startswith("cuda"):
        workers = options.workers or max(1, visible_gpus())
        return min(workers, max(cells, 1)), options.threads
    workers = options.workers or max(1, min(cpu_cores(), cells))
    threads = options.threads or max(1, cpu_cores() // workers)
    return workers, threads


def sbatch_flags(items: tuple[str, ...]) -> dict[str, str]:
    """--sbatch KEY=VALUE items as submitit's additional parameters ('--qos=high' and 'qos=high' alike)."""
    flags = {}
    for item in items:
        key, sep, value = item.lstrip("-").partition("=")
        if not sep or not key:
            raise UserError(f"--sbatch '{item}' is not KEY=VALUE; e.g. --sbatch qos=high --sbatch account=proj")
        flags[key.replace("_", "-")] = value
    return flags


def slurm_partitions() -> list[str]:
    """The partitions `sinfo` lists (the default one without its '*')."""
    done = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise UserError(
            f"--executor slurm: `sinfo` fails ({first}); check that SLURM is up (`sinfo`), "
            "or start a local one with `scripts/local_slurm.sh start`"
        )
    return [p.strip().rstrip("*") for p in done.stdout.split() if p.strip()]


def check_executor(options: ExecutorOptions) -> None:
    """Refuse bad executor input before anything is written or submitted."""
    if options.kind not in EXECUTORS:
        raise UserError(f"--executor '{options.kind}' is unknown; pass one of {', '.join(EXECUTORS)}")
    for flag, value in (
        ("--workers", options.workers),
        ("--threads", options.threads),
        ("--gpus-per-task", options.gpus_per_task),
        ("--cpus-per-task", options.cpus_per_task),
        ("--array-parallelism", options.array_parallelism),
        ("--time-min", options.time_min),
    ):
        if value is not None and value < (0 if flag == "--gpus-per-task" else 1):
            raise UserError(f"{flag} {value} must be at least {0 if flag == '--gpus-per-task' else 1}")
    if options.mem_gb is not None and not (0 < options.mem_gb < math.inf):  # NaN fails this too
        raise UserError(f"--mem-gb {options.mem_gb:g} must be a positive number of GB")
    if options.kind != "slurm":
        # A SLURM resource given to another executor would be ignored: refuse it, naming it.
        ignored = [flag for field, flag in SLURM_ONLY.items() if getattr(options, field) != _DEFAULTS[field]]
        if ignored:
            raise UserError(
                f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no effect with --executor "
                f"{options.kind} (SLURM options); pass --executor slurm or drop {'it' if len(ignored) == 1 else 'them'}"
            )
        return
    sbatch_flags(options.sbatch)
    if shutil.which("sbatch") is None:
        raise UserError(
            "--executor slurm: no `sbatch` on the PATH; run from a SLURM login node, start a local SLURM with "
            "`scripts/local_slurm.sh start`, or pass --executor local"
        )
    if options.partition is not None:
        known = slurm_partitions()
        if options.partition not in known:
            raise UserError(
                f"--partition '{options.partition}' is not a SLURM partition here (sinfo lists: "
                f"{', '.join(known) or 'none'}); pass one of them"
            )


def slurm_executor(folder: Path, options: ExecutorOptions, **extra: Any) -> submitit.SlurmExecutor:
    """submitit's SLURM executor with the grid's resources (logs in `folder`)."""
    executor = submitit.SlurmExecutor(folder=folder)
    parameters: dict[str, Any] = {"time": options.time_min, **extra}
    if options.partition:
        parameters["partition"] = options.partition
    if options.gpus_per_task:
        parameters["gpus_per_task"] = options.gpus_per_task
    if options.cpus_per_task:
        parameters["cpus_per_task"] = options.cpus_per_task
    if options.mem_gb:
        parameters["mem"] = f"{int(options.mem_gb * 1024)}M"
    if options.array_parallelism:
        parameters["array_parallelism"] = options.array_parallelism
    if options.sbatch:
        parameters["additional_parameters"] = sbatch_flags(options.sbatch)
    executor.update_parameters(**parameters)
    return executor


def submit_slurm_array(cells: list[Cell], folder: Path, options: ExecutorOptions) -> list[Any]:
    """One SLURM job array for the cells (one task each); returns submitit's jobs, in cell order."""
    threads = options.threads or options.cpus_per_task
    executor = slurm_executor(folder, options, job_name="ladabench-grid")
    job = CellJob(workers=1, threads=threads)
    return executor.map_array(job, cells)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while starting workers: they inherit it, so a terminal's Ctrl-C reaches only this process.

    The grid then stops them itself with SIGTERM, once: a worker that got both would abort without a snapshot.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def record_lost(cell: Cell, how: str, log: Path) -> None:
    """Mark a cell failed when its job ended while the cell still said running (killed, out of memory, ...)."""
    record = read_record(cell) or {}
    if record.get("state") in ("running", "requeued"):
        write_record(cell, "failed", error=f"{how} while the cell was {record['state']}", log=str(log))


class LocalPool:
    """At most `workers` cells at a time as submitit local jobs (one process each); more start as others end."""

    def __init__(self, cells: list[Cell], folder: Path, workers: int, threads: int | None, device: str) -> None:
        """The queue of cells; each job gets `threads` torch threads and, on CUDA, its own GPU."""
        self.queue = list(cells)
        self.cells = {cell.key: cell for cell in cells}
        self.workers, self.threads = workers, threads
        self.folder = folder
        self.gpus = list(range(visible_gpus())) if device.startswith("cuda") else []
        self.running: dict[str, tuple[Any, int | None]] = {}  # cell key -> (job, gpu)
        self.job_ids: dict[str, str] = {}

    def _start(self, cell: Cell) -> None:
        """Start one cell on a free worker slot (and a free GPU on CUDA)."""
        used = {gpu for _, gpu in self.running.values()}
        gpu = next((g for g in self.gpus if g not in used), None)
        executor = submitit.LocalExecutor(folder=self.folder)
        executor.update_parameters(
            timeout_min=7 * 24 * 60, visible_gpus=(gpu,) if gpu is not None else (), gpus_per_node=int(gpu is not None)
        )
        with sigint_ignored():
            job = executor.submit(CellJob(workers=self.workers, threads=self.threads), cell)
        self.running[cell.key] = (job, gpu)
        self.job_ids[cell.key] = job.job_id

    def step(self) -> list[str]:
        """Collect finished jobs and start queued cells; return the keys that finished now."""
        finished = [key for key, (job, _) in self.running.items() if job.done()]
        for key in finished:
            job, _ = self.running.pop(key)
            record_lost(self.cells[key], "its worker process ended without finishing it (killed?)", job.paths.stderr)
        while self.queue and len(self.running) < self.workers:
            self._start(self.queue.pop(0))
        return finished

    @property
    def idle(self) -> bool:
        """Nothing running and nothing queued."""
        return not self.running and not self.queue

    def stop(self) -> None:
        """Ask every running worker to stop with a snapshot (SIGTERM, forwarded by submitit) and wait for them."""
        self.queue.clear()
        for job, _ in self.running.values():
            if job._process is not None and job._process.poll() is None:
                job._process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while any(not job.done() for job, _ in self.running.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.running.clear()


def run_local(
    cells: list[Cell], folder: Path, workers: int, threads: int | None, device: str, on_poll: Callable[[], None]
) -> dict[str, str]:
    """Run the cells on local workers until all ended (a failure ends its cell only); return their job ids."""
    pool = LocalPool(cells, folder, workers, threads, device)
    try:
        pool.step()
        while not pool.idle:
            on_poll()
            time.sleep(POLL_S)
            pool.step()
    except BaseException:  # Ctrl-C or SIGTERM of the grid: the workers stop with a snapshot first
        pool.stop()
        raise
    on_poll()
    return pool.job_ids


def run_debug(cells: list[Cell], threads: int | None, on_poll: Callable[[], None]) -> None:
    """Run the cells one after another in this process (submitit's debug executor semantics: breakpoints work)."""
    job = CellJob(workers=1, threads=threads)
    for cell in cells:
        try:
            job(cell)
        except Interrupted:
            raise
        except UserError:
            pass  # recorded as failed by the job; the grid's table shows it and the other cells go on
        on_poll()
