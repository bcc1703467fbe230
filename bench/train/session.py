"""`train(options)`: the one entry point that trains a run (the CLI, the grid, torchrun workers and tests call it).

It creates (or reopens and locks) the run directory, writes options.json and env.json, restores a
resumed run on every rank, runs `training_loop`, and prints a one-line summary. What happens at
each tick and at each evaluated snapshot is the caller's business (`TrainHooks`), so training knows
nothing of metrics or trackers.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape

from bench.core.interrupt import STOP_SIGNALS, Interrupted
from bench.core.rundir import RunDir
from bench.data import load_dataset
from bench.data.types import PreparedDataset
from bench.registry import get_model
from bench.train import distributed
from bench.train.budget import budget_text
from bench.train.interrupt import stop_on_signals
from bench.train.lock import RunLock
from bench.train.loop import (
    INTERRUPTED,
    OnSnapshot,
    OnTick,
    TrainHooks,
    TrainResult,
    build_state,
    log,
    restore,
    training_loop,
)
from bench.train.options import TrainOptions
from bench.train.provenance import environment_info
from bench.train.seeds import determinism
from bench.train.snapshots import check_fits, load_resumable, remove_partial_writes
from bench.train.state import load_snapshot
from bench.train.trackers import with_trackers


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
    dataset: PreparedDataset | None = None,
    console: Console | None = None,
    hooks: TrainHooks | None = None,
    on_tick: OnTick | None = None,
    on_snapshot: OnSnapshot | None = None,
    env_extra: dict[str, Any] | None = None,
    stop_signals: Iterable[signal.Signals] = STOP_SIGNALS,
) -> RunDir:
    """Train a new run (or continue `resume`) to its budget; return its run directory.

    `dataset`: the opened dataset when the caller already has it; `console`: where progress and the
    summary go (default: nowhere); `hooks`: the caller's callbacks (`on_tick` and `on_snapshot` are
    short for the hooks of those names); `env_extra`: provenance only the caller knows, added to
    env.json; `stop_signals`: the signals that make the session snapshot and stop after the current
    iteration (raising `Interrupted`); a second one aborts. Under torchrun every rank calls this;
    only rank 0 writes, and stop signals are left to torchrun.
    """
    console = console or Console(quiet=True)
    hooks = hooks or TrainHooks()
    hooks = replace(hooks, on_tick=on_tick or hooks.on_tick, on_snapshot=on_snapshot or hooks.on_snapshot)
    hooks = with_trackers(hooks, options)  # --tracker: TensorBoard / W&B mirrors (rank 0 only: only it calls hooks)
    dataset = dataset if dataset is not None else load_dataset(options.data, options.data_root)
    info = distributed.init(options.device)
    try:
        if not info.is_writer:  # only rank 0 prints, writes and calls hooks; the others follow its choices
            return _session(options, dataset, info, resume, TrainHooks(), (), Console(quiet=True), None, None)
        if options.device == "cpu" and not get_model(options.model).is_tiny(options.preset):
            console.print(
                f"[yellow]note:[/] training preset '{escape(options.preset)}' on CPU will be slow; "
                "`--preset tiny` is the CPU-sized variant"
            )
        run = (
            resume.run
            if resume is not None
            else RunDir.create(
                Path(options.out),
                options.model,
                options.data,
                options.preset,
                options.total_kimg,
                options.seed,
                options.budget_tflops,
            )
        )
        with RunLock(run):
            return _session(options, dataset, info, resume, hooks, stop_signals, console, run, env_extra)
    finally:
        distributed.shutdown()


def _session(
    options: TrainOptions,
    dataset: PreparedDataset,
    info: distributed.Dist,
    resume: Resume | None,
    hooks: TrainHooks,
    stop_signals: Iterable[signal.Signals],
    console: Console,
    run: RunDir | None,
    env_extra: dict[str, Any] | None,
) -> RunDir:
    """One session of a run on this rank: write the run's files (rank 0), restore or start, train, summarise."""
    snapshot, snap = (resume.snapshot if resume else None), None
    if info.is_writer:  # rank 0 holds the run lock here
        snapshot, snap = _write_start(options, resume, console, run, env_extra)
    run, snapshot = distributed.broadcast_object((run, snapshot), info)
    if resume is not None and snap is None:
        snap = load_snapshot(snapshot)  # ranks above 0 read the snapshot rank 0 chose
    with determinism(options.deterministic, torch.device(options.device)):
        state = build_state(options, dataset, info)
        if resume is not None:
            restore(state, snap, snapshot)
            if info.is_writer:
                run.truncate_stats(state.images_seen)  # the ticks after the snapshot will be trained again
            for line in resume.changed:
                log(state, run, f"resumed with --force; changed: {line}")
            log(
                state,
                run,
                f"resumed from {snapshot.name} at {state.images_seen} images on {info.world_size} process(es)",
            )
        else:
            log(
                state,
                run,
                f"start: {options.model} preset {options.preset} on {options.data}, "
                f"budget {budget_text(options)} / {options.minutes} min, device {options.device}, "
                f"{info.world_size} process(es)",
            )
        console.print(f"run directory: {escape(str(run.path))}")
        if hooks.on_open is not None:
            hooks.on_open(run, resume is not None)
        reason = "failed"
        try:
            with stop_on_signals(stop_signals, enabled=not info.enabled) as stop:
                result = training_loop(state, run, console, hooks, stop)
            reason = result.stop_reason
        finally:
            if hooks.on_close is not None:
                hooks.on_close(run, reason)
    if result.stop_reason == INTERRUPTED:  # raised inside the run lock: leaving it releases the lock
        interrupted = Interrupted(
            f"interrupted at {result.images_seen / 1000:g} kimg; resume with: ladabench train --resume {run.path}"
        )
        interrupted.signal_name = stop.signal_name  # a grid cell requeues on submitit's signal, not on others
        raise interrupted
    console.print(summary(result))
    return run


def _write_start(
    options: TrainOptions,
    resume: Resume | None,
    console: Console,
    run: RunDir,
    env_extra: dict[str, Any] | None,
) -> tuple[Path | None, dict[str, Any] | None]:
    """Rank 0: pick the snapshot to resume (under the lock), write options.json and env.json or log the session."""
    snapshot, snap = None, None
    if resume is not None:  # chosen under the lock: no other writer can add or change snapshots meanwhile

        def warn(line: str) -> None:
            """A warning in the log and on the console."""
            run.log("warning: " + line)
            console.print(f"[yellow]warning:[/] {escape(line)}")

        for leftover in remove_partial_writes(run):
            run.log(f"removed {leftover.name}, a partial write of an interrupted session")
        snapshot, snap = load_resumable(run, resume.snapshot, warn)
        check_fits(snapshot, snap, options)  # before options.json is rewritten: a misfit changes nothing
    run.write_options(options.to_json())
    env = environment_info(options.device, env_extra)
    if resume is None:
        run.write_env(env)
    else:  # env.json describes the first session; a resumed one is recorded in the log
        run.log("resume session: " + " ".join(f"{k}={env[k]}" for k in ("hostname", "torch", "gpu_name", "git_sha")))
        run.log("command line: " + " ".join(env["command_line"]))
    return snapshot, snap


def summary(result: TrainResult) -> str:
    """The one-line 'done' message: why it stopped, how far, how fast, where."""
    stats, losses = result.last_stats, ""
    if stats is not None:
        losses = f", loss D {_loss(stats.loss_d)} G {_loss(stats.loss_g)}"
        if stats.loss_d is None or stats.loss_g is None:  # say why, or 'n/a' reads like a bug
            losses += (
                f" (fp16 loss scaling skipped all {stats.amp_skipped_steps} steps of the last tick: no finite "
                "loss to show; on CPU use --amp bf16 or off)"
            )
        losses += f", {stats.img_per_sec:.1f} img/s"
    return (
        f"[bold green]done[/] ({result.stop_reason}): {result.images_seen / 1000:g} kimg in "
        f"{result.wall_seconds:.1f} s{losses}; run: {escape(str(result.run_dir))}"
    )


def _loss(value: float | None) -> str:
    """A loss for the summary ('n/a' when fp16 skipped every step of the last tick)."""
    return "n/a" if value is None else f"{value:.3f}"
