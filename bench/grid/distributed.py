"""One large run across SLURM nodes: one job whose tasks form one torch.distributed group (`train --executor slurm`).

submitit starts the tasks (nodes x tasks per node) and describes the job; each task exports RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT from it and calls `train` as a torchrun worker would, on the
existing DistributedDataParallel path (NCCL on CUDA, gloo on CPU). Only rank 0 writes the run.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import submitit
from rich.console import Console

from bench.core.errors import UserError
from bench.core.rundir import RunDir
from bench.grid.executors import POLL_S, ExecutorOptions, check_executor, slurm_executor
from bench.grid.run import ENDED
from bench.grid.status import scheduler_states
from bench.metrics.hooks import snapshot_evaluator
from bench.train.options import TrainOptions
from bench.train.session import Resume, train

TRAIN_FOLDER = "submitit"  # <out>/submitit/: the job's pickles and per-task stdout/stderr
UNLISTED_GRACE_S = 30.0  # how long a job may be gone from squeue before its missing result counts as lost


class DistributedTrainJob:
    """What every task of the SLURM job runs: join the group submitit describes, then train (rank 0 writes)."""

    def __init__(self, options: dict[str, Any], resume: str | None, snapshot: str | None, changed: list[str]):
        """The resolved options as JSON and, for a resumed run, its folder, snapshot and forced changes."""
        self.options, self.resume, self.snapshot, self.changed = options, resume, snapshot, changed

    def __call__(self) -> str | None:
        """Train as this task's rank; return the run folder (rank 0) or None."""
        env = submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        options = TrainOptions.from_json(self.options, "the submitted options")
        resume = None
        if self.resume is not None:
            snapshot = Path(self.snapshot) if self.snapshot else None
            resume = Resume(RunDir(self.resume), snapshot, tuple(self.changed))
        on_snapshot, env_extra = snapshot_evaluator(options)
        job = submitit.JobEnvironment()
        where = {"executor": "slurm", "slurm_job_id": job.job_id, "nodes": job.num_nodes, "node": socket.gethostname()}
        run = train(
            options,
            resume=resume,
            console=Console() if env.rank == 0 else Console(quiet=True),
            on_snapshot=on_snapshot,
            env_extra={**env_extra, "where": {**where, "world_size": env.world_size}},
        )
        return str(run.path) if env.rank == 0 else None


def submit_distributed_training(
    options: TrainOptions, resume: Resume | None, executor: ExecutorOptions, nodes: int, tasks_per_node: int
) -> Any:
    """Submit one SLURM job of `nodes` x `tasks_per_node` tasks training the run; return submitit's job."""
    check_executor(executor)
    if nodes < 1 or tasks_per_node < 1:
        raise UserError(f"--nodes {nodes} and tasks per node {tasks_per_node} must be at least 1")
    if options.world_size != nodes * tasks_per_node:
        raise UserError(f"the options' world size {options.world_size} is not {nodes} nodes x {tasks_per_node} tasks")
    folder = Path(options.out).resolve() / TRAIN_FOLDER
    extra: dict[str, Any] = {
        "nodes": nodes,
        "ntasks_per_node": tasks_per_node,
        "job_name": f"ladabench-{options.model}",
    }
    if executor.gpus_per_task:
        extra["gpus_per_node"] = executor.gpus_per_task * tasks_per_node
    slurm = slurm_executor(folder, ExecutorOptions(**{**executor.__dict__, "gpus_per_task": None}), **extra)
    job = DistributedTrainJob(
        options.to_json(),
        None if resume is None else str(resume.run.path),
        None if resume is None or resume.snapshot is None else str(resume.snapshot),
        [] if resume is None else list(resume.changed),
    )
    return slurm.submit(job)


def wait_for_job(job: Any, console: Console) -> str:
    """Follow a submitted job until every task wrote its result (squeue: no accounting needed); return the run."""
    results = [job.task(i).paths.result_pickle for i in range(job.num_tasks)]
    last, gone_polls = None, 0
    while not all(path.exists() for path in results):
        state = scheduler_states([job.job_id]).get(job.job_id)
        if state != last:
            console.print(f"SLURM job {job.job_id}: {state or 'not listed'}")
            last = state
        # A task killed before writing its result never will: stop waiting a while after the job left the queue.
        gone_polls = gone_polls + 1 if state is None or state in ENDED else 0
        if gone_polls * POLL_S > UNLISTED_GRACE_S:
            break
        time.sleep(POLL_S)
    try:
        outputs = job.results()
    except Exception as exc:  # submitit raises with the task's traceback: show its last line and the log
        last_line = (str(exc).strip().splitlines() or ["failed"])[-1]
        raise UserError(f"SLURM job {job.job_id} failed: {last_line} (log {job.paths.stderr})") from None
    run = next((r for r in outputs if r), None)
    if run is None:
        raise UserError(f"SLURM job {job.job_id} wrote no run (log {job.paths.stdout})")
    return run
