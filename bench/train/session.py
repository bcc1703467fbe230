"""`train(options)`: the one entry point that trains a run (the CLI, the benchmark grid, torchrun workers and tests call it).

It creates (or reopens and locks) the run directory, writes options.json and env.json, restores a
resumed run on every rank, trains, and prints a one-line summary. What happens at each tick and at
each evaluated snapshot is the caller's business: `on_tick(stats_record)` and
`on_snapshot(run, snapshot_path, device) -> result rows`, so training knows nothing of metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape

from bench.core.interrupt import Interrupted
from bench.core.rundir import RunDir
from bench.data import load_dataset
from bench.registry import get_model
from bench.train import distributed
from bench.train.budget import budget_text
from bench.train.interrupt import stop_on_signals
from bench.train.lock import RunLock
from bench.train.loop import INTERRUPTED, OnSnapshot, OnTick, Trainer, TrainResult
from bench.train.options import TrainOptions
from bench.train.provenance import environment_info
from bench.train.seeds import determinism
from bench.train.snapshots import check_fits, load_resumable, remove_partial_writes
from bench.train.state import load_snapshot


@dataclass(frozen=True)
class Resume:
    """Continue an existing run: its folder, the snapshot named (None: the newest that loads), forced changes."""

    run: RunDir
    snapshot: Path | None = None
    changed: tuple[str, ...] = ()


def train(
    options: TrainOptions,
    *,
    resume: Resume | None = None,
    dataset: Any = None,
    console: Console | None = None,
    on_tick: OnTick | None = None,
    on_snapshot: OnSnapshot | None = None,
    env_extra: dict[str, Any] | None = None,
) -> RunDir:
    """Train a new run (or continue `resume`) to its budget; return its run directory.

    `dataset`: the opened dataset when the caller already has it; `console`: where progress and the
    summary go (default: nowhere); `env_extra`: provenance only the caller knows, added to env.json.
    Under torchrun every rank calls this; only rank 0 writes.
    """
    console = console or Console(quiet=True)
    dataset = dataset if dataset is not None else load_dataset(options.data, options.data_root)
    info = distributed.init(options.device)
    session = _Session(options, dataset, info, resume, on_tick, on_snapshot, env_extra)
    try:
        if not info.is_writer:  # only rank 0 prints and writes; the others follow its choices
            return session.run(Console(quiet=True), None)
        if options.device == "cpu" and not get_model(options.model).is_tiny(options.preset):
            console.print(
                f"[yellow]note:[/] training preset '{escape(options.preset)}' on CPU will be slow; "
                "`--preset tiny` is the CPU-sized variant"
            )
        run = (
            resume.run
            if resume is not None
            else RunDir.create(
                Path(options.out), options.model, options.data, options.preset, options.total_kimg, options.seed
            )
        )
        with RunLock(run):
            return session.run(console, run)
    finally:
        distributed.shutdown()


@dataclass
class _Session:
    """One session of a run on this rank: the inputs `train` was given."""

    options: TrainOptions
    dataset: Any
    info: distributed.Dist
    resume: Resume | None
    on_tick: OnTick | None
    on_snapshot: OnSnapshot | None
    env_extra: dict[str, Any] | None

    def run(self, console: Console, run: RunDir | None) -> RunDir:
        """Write the run's files (rank 0), restore a resumed run on every rank, train, print the summary."""
        options, resume = self.options, self.resume
        snapshot, snap = (resume.snapshot if resume else None), None
        if self.info.is_writer:
            snapshot, snap = self._write_start(console, run)
        run, snapshot = distributed.broadcast_object((run, snapshot), self.info)
        if resume is not None and snap is None:
            snap = load_snapshot(snapshot)  # ranks above 0 read the snapshot rank 0 chose
        with determinism(options.deterministic, torch.device(options.device)):
            trainer = Trainer(
                run,
                options,
                self.dataset,
                console,
                self.info,
                self.on_tick,
                self.on_snapshot if self.info.is_writer else None,
            )
            if resume is not None:
                trainer.restore(snapshot, snap)
                for line in resume.changed:
                    trainer.log(f"resumed with --force; changed: {line}")
                trainer.log(
                    f"resumed from {snapshot.name} at {trainer.counters.images_seen} images "
                    f"on {self.info.world_size} process(es)"
                )
            else:
                trainer.log(
                    f"start: {options.model} preset {options.preset} on {options.data}, "
                    f"budget {budget_text(options)} / {options.minutes} min, device {options.device}, "
                    f"{self.info.world_size} process(es)"
                )
            console.print(f"run directory: {escape(str(run.path))}")
            with stop_on_signals(enabled=not self.info.enabled) as trainer.stop:
                result = trainer.run()
        if result.stop_reason == INTERRUPTED:  # raised inside the run lock: leaving it releases the lock
            raise Interrupted(
                f"interrupted at {result.images_seen / 1000:g} kimg; resume with: ladabench train --resume {run.path}"
            )
        console.print(summary(result))
        return run

    def _write_start(self, console: Console, run: RunDir) -> tuple[Path | None, dict[str, Any] | None]:
        """Rank 0: pick the snapshot to resume (under the lock), write options.json and env.json or log the session."""
        snapshot, snap = None, None
        if self.resume is not None:  # chosen under the lock: no other writer can add or change snapshots meanwhile

            def warn(line: str) -> None:
                """A warning in the log and on the console."""
                run.log("warning: " + line)
                console.print(f"[yellow]warning:[/] {escape(line)}")

            for leftover in remove_partial_writes(run):
                run.log(f"removed {leftover.name}, a partial write of an interrupted session")
            snapshot, snap = load_resumable(run, self.resume.snapshot, warn)
            check_fits(snapshot, snap, self.options)  # before options.json is rewritten: a misfit changes nothing
        run.write_options(self.options.to_json())
        env = environment_info(self.options.device, self.env_extra)
        if self.resume is None:
            run.write_env(env)
        else:  # env.json describes the first session; a resumed one is recorded in the log
            run.log(
                "resume session: " + " ".join(f"{k}={env[k]}" for k in ("hostname", "torch", "gpu_name", "git_sha"))
            )
            run.log("command line: " + " ".join(env["command_line"]))
        return snapshot, snap


def summary(result: TrainResult) -> str:
    """The one-line 'done' message: why it stopped, how far, how fast, where."""
    stats, losses = result.last_stats, ""
    if stats:
        fmt: Callable[[float | None], str] = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731 - None: fp16 skipped every step
        losses = f", loss D {fmt(stats['loss_d'])} G {fmt(stats['loss_g'])}, {stats['img_per_sec']:.1f} img/s"
    return (
        f"[bold green]done[/] ({result.stop_reason}): {result.images_seen / 1000:g} kimg in "
        f"{result.wall_seconds:.1f} s{losses}; run: {escape(str(result.run_dir))}"
    )
