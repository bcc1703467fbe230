"""`--procs N`: run `train` in N processes under torchrun; each worker reads the resolved options from one JSON file.

The parent checks everything it can first (options, data, metric names, the run lock, device count),
so a mistake gets one clear message instead of N workers failing inside torchrun.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench.core.console import console, exit_code_of
from bench.core.errors import UserError
from bench.core.files import atomic_write_json, read_json
from bench.core.rundir import RunDir
from bench.metrics.hooks import snapshot_evaluator
from bench.train.lock import RunLock
from bench.train.options import TrainOptions
from bench.train.session import Resume, train

WORKER_MODULE = "bench.commands.torchrun"


def launch_torchrun(nproc: int, options: TrainOptions, resume: Resume | None) -> int:
    """Start `torchrun --standalone --nproc_per_node N` on this module with the options file; return its exit code."""
    if resume is not None:
        with RunLock(resume.run):
            pass  # a live writer is refused now; a stale lock is logged and cleared
    if options.device.startswith("cuda") and nproc > torch.cuda.device_count():
        raise UserError(
            f"--procs {nproc}: this machine has {torch.cuda.device_count()} CUDA devices; "
            "pass at most that many, or --device cpu for CPU processes"
        )
    with tempfile.TemporaryDirectory(prefix="ladabench-launch-") as folder:
        launch_file = Path(folder) / "launch.json"
        atomic_write_json(
            launch_file,
            {
                "options": options.to_json(),
                "resume": None if resume is None else str(resume.run.path),
                "snapshot": None if resume is None or resume.snapshot is None else str(resume.snapshot),
                "changed": [] if resume is None else list(resume.changed),
            },
        )
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            WORKER_MODULE,
            str(launch_file),
        ]
        return subprocess.run(command, check=False).returncode


def _work(launch_file: Path) -> None:
    """One torchrun worker: the parent's options, resume target and metrics callback, then `train`."""
    launch = read_json(launch_file)
    options = TrainOptions.from_json(launch["options"], str(launch_file))
    resume = None
    if launch["resume"] is not None:
        snapshot = Path(launch["snapshot"]) if launch["snapshot"] else None
        resume = Resume(RunDir(launch["resume"]), snapshot, tuple(launch["changed"]))
    on_snapshot, env_extra = snapshot_evaluator(options)
    train(options, resume=resume, console=console, on_snapshot=on_snapshot, env_extra=env_extra)


if __name__ == "__main__":
    sys.exit(exit_code_of(lambda: _work(Path(sys.argv[1]))))
