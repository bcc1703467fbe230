"""The training loop, top to bottom: the state a run trains, the loop over ticks of steps, snapshots and stats lines.

Read in order: `TrainState` (everything one rank trains with), `build_state` (a run's start from its
options), `snapshot` / `restore` (what a snapshot file holds, and continuing from one bit for bit),
`training_loop` (iterations grouped in ticks; at each tick a stats line, and when due a snapshot, a
sample grid and the evaluation), then the helpers it calls. The D and G steps themselves are
`bench.train.step`; the session around the loop (run folder, lock, resume) is `bench.train.session`.

Budget (real images shown to D): training stops at exactly `total_kimg * 1000` images (with
`--budget-tflops` B and F counted training FLOPs per image: ceil(B / F) images, `bench.train.budget`); when
that is not a whole number of batches, the last iteration uses a smaller batch (D and G steps alike).
`--minutes` stops after the iteration in which the wall clock (summed over sessions; snapshots
count, in-training evaluation does not) runs out; `--stop-kimg` ends a session at the first whole
batch past it, keeping the budget for `--resume`. A stop signal ends it after the current
iteration with a snapshot. Under torchrun every rank runs this loop on its slice of each global
batch (see `distributed`); only rank 0 writes the run directory and calls the hooks.
"""

from __future__ import annotations

import math
import random
import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel as DDP

from bench.core.errors import UserError
from bench.core.records import StatsLine
from bench.core.rundir import RunDir
from bench.data.grid import save_grid
from bench.data.types import PreparedDataset
from bench.registry import get_model
from bench.train import distributed
from bench.train.budget import budget_images
from bench.train.distributed import Dist
from bench.train.ema import EmaSchedule, ema_state_dict, load_ema_state_dict, set_ema_decay
from bench.train.ema_start import initial_ema_state
from bench.train.interrupt import StopRequest
from bench.train.options import TrainOptions
from bench.train.progress import training_progress
from bench.train.sampler import EpochSampler, fetch_batch
from bench.train.samples import fixed_latents, render_grid
from bench.train.seeds import (
    DATA_ORDER_STREAM,
    EMA_INIT_STREAM,
    GENERATOR_STREAMS,
    GRID_STREAM,
    derived_seed,
    rank_seed,
)
from bench.train.snapshots import prune
from bench.train.state import capture_rng, restore_rng, save_snapshot, snapshot_checksum
from bench.train.step import AMP_DTYPES, StepContext, make_step_context, train_step

INTERRUPTED = "interrupted"  # the stop reason of a session ended by a stop signal
STAT_KEYS = ("loss_d", "loss_g", "r1", "cr", "grad_norm_d", "grad_norm_g")  # averaged per tick into stats.jsonl
SKIP_KEYS = ("amp_skipped_d", "amp_skipped_g")  # 1.0 where fp16 loss scaling skipped that step's update
LOSS_KEYS = ("loss_d", "loss_g")  # a non-finite value here (on an applied step) is divergence
MIN_LOSS_SCALE = 2.0**-24  # an fp16 scale this small means the gradients overflow at any scale

OnTick = Callable[[StatsLine], None]
OnSnapshot = Callable[[RunDir, Path, str], list[Any]]  # (run, snapshot, device) -> metric rows to log
OnMetrics = Callable[[float, list[Any]], None]  # (kimg of the snapshot, the rows `on_snapshot` returned)
OnGrid = Callable[[float, Path], None]  # (kimg, path of the sample grid just written)
OnOpen = Callable[[RunDir, bool], None]  # (run, resumed) once the session is set up
OnClose = Callable[[RunDir, str], None]  # (run, stop reason; "failed" when it raised) when the session ends


@dataclass(frozen=True)
class TrainHooks:
    """What a caller learns, or adds, while a run trains; every hook runs on rank 0 only, in the training thread."""

    on_tick: OnTick | None = None  # each tick's stats line, as appended to stats.jsonl
    on_snapshot: OnSnapshot | None = None  # evaluate a snapshot when an evaluation is due; returns the metric rows
    on_metrics: OnMetrics | None = None  # the metric rows of each evaluated snapshot
    on_grid: OnGrid | None = None  # each sample grid written (kimg 0 for a new run, then one per snapshot)
    on_open: OnOpen | None = None  # the run is set up: options.json and env.json written, or the snapshot restored
    on_close: OnClose | None = None  # the session ended (stopped, finished, interrupted or failed)


@dataclass
class TrainResult:
    """Where and why a session stopped, for the one-line summary."""

    run_dir: Path
    images_seen: int
    wall_seconds: float
    stop_reason: str
    last_snapshot: Path | None
    last_stats: StatsLine | None = None


@dataclass
class TrainState:
    """Everything one rank trains with; `snapshot` lists the parts a snapshot keeps, the rest follows from the options.

    `ctx` (the step's context) is the one owner of the models, optimizers and scaler: `ctx.G_plain`
    is G (the module whose weights are saved and averaged), `ctx.G` the same G as the step calls it
    (compiled and/or DDP-wrapped when asked), `ctx.D`, `ctx.ema` (G_ema), `ctx.opt_g`, `ctx.opt_d`,
    `ctx.scaler`, and `ctx.step`, the run's iteration count.
    """

    options: TrainOptions
    dataset: PreparedDataset
    dist: Dist  # this process's rank and the job's size
    device: torch.device
    ctx: StepContext
    generators: dict[str, torch.Generator]  # this rank's z and augmentation streams (GENERATOR_STREAMS)
    sampler: EpochSampler  # the global data order
    ema_schedule: EmaSchedule
    grid_latents: Tensor  # the fixed latents of every sample grid of the run
    images_seen: int = 0  # real images shown to D, over all ranks and sessions
    tick: int = 0
    wall_seconds: float = 0.0  # training time summed over sessions (snapshots included, evaluation not)
    last_snapshot: Path | None = None


def seeded_models(options: TrainOptions) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as a run with these options starts: global RNGs seeded with the run's seed, then built."""
    torch.manual_seed(options.seed)
    np.random.seed(options.seed % 2**32)
    random.seed(options.seed)
    spec = get_model(options.model)
    return spec.build_models(spec.presets[options.preset])


def build_state(options: TrainOptions, dataset: PreparedDataset, dist_info: Dist) -> TrainState:
    """A run's state at image 0 on this rank: seeded models, G_ema, optimizers, per-stream generators, data order."""
    device = torch.device(distributed.rank_device(options.device, dist_info))
    seed = options.seed
    G, D = seeded_models(options)
    G, D = G.to(device), D.to(device)
    # Separate generators: z and augmentation draws do not shift when a model consumes global RNG.
    # Each rank draws its own (per-rank seeds); the data order is global (one sampler, sliced).
    generators = {
        name: torch.Generator(device).manual_seed(rank_seed(seed, stream, dist_info.rank))
        for name, stream in GENERATOR_STREAMS.items()
    }
    ctx = make_step_context(
        G, D, options, device.type, AMP_DTYPES[options.amp], generators["augment"], options.r1_interval
    )
    spec = get_model(options.model)
    build_generator = lambda: spec.build(spec.presets[options.preset])[0]  # noqa: E731 - G_ema's fresh start
    load_ema_state_dict(
        ctx.ema, initial_ema_state(G, options.ema_start, build_generator, derived_seed(seed, EMA_INIT_STREAM))
    )
    if dist_info.enabled:
        ctx.G, ctx.D_pair = _wrap_ddp(G, ctx.D_pair, device)
    # torch.compile cannot differentiate twice (R1), so only G is compiled; D stays eager.
    ctx.G = torch.compile(ctx.G) if options.compile else ctx.G
    return TrainState(
        options=options,
        dataset=dataset,
        dist=dist_info,
        device=device,
        ctx=ctx,
        generators=generators,
        sampler=EpochSampler(dataset.count, options.batch_size, derived_seed(seed, DATA_ORDER_STREAM)),
        ema_schedule=EmaSchedule(options.ema_decay, options.ema_halflife_kimg, options.ema_rampup, options.batch_size),
        grid_latents=fixed_latents(int(G.z_dim), derived_seed(seed, GRID_STREAM)),
    )


def _wrap_ddp(G: nn.Module, D_pair: nn.Module, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """G and the D pair under DistributedDataParallel.

    No SyncBatchNorm and no buffer broadcast: BatchNorm statistics stay per rank, as on one GPU.
    """
    ids = [device.index] if device.type == "cuda" else None
    with warnings.catch_warnings():  # its deprecation note itself says to keep it for rank-local buffers
        warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
        return (
            DDP(G, device_ids=ids, broadcast_buffers=False),
            DDP(D_pair, device_ids=ids, broadcast_buffers=False),
        )


def snapshot(state: TrainState) -> dict[str, Any]:
    """Everything needed to continue bit for bit (a collective under torchrun: every rank calls it)."""
    ctx = state.ctx
    return {
        "G": ctx.G_plain.state_dict(),
        "D": ctx.D.state_dict(),
        "G_ema": ema_state_dict(ctx.ema),
        "opt_g": ctx.opt_g.state_dict(),
        "opt_d": ctx.opt_d.state_dict(),
        "scaler": ctx.scaler.state_dict(),
        "rng": capture_rng(state.generators),
        # every rank's own generator states, so a resume under the same process count is exact
        "rank_generators": distributed.gather_objects(
            {name: gen.get_state() for name, gen in state.generators.items()}, state.dist
        ),
        "data_state": state.sampler.state(),
        "images_seen": state.images_seen,
        "step": ctx.step,
        "tick": state.tick,
        "wall_seconds": state.wall_seconds,
        "options": state.options.to_json(),
    }


def restore(state: TrainState, snap: dict[str, Any], snapshot_path: Path) -> None:
    """Continue from a loaded snapshot: weights, optimizers, scaler, RNGs, data order and counters."""
    ctx, options = state.ctx, state.options
    ctx.G_plain.load_state_dict(snap["G"])
    ctx.D.load_state_dict(snap["D"])
    load_ema_state_dict(ctx.ema, snap["G_ema"])
    ctx.opt_g.load_state_dict(snap["opt_g"])
    ctx.opt_d.load_state_dict(snap["opt_d"])
    ctx.scaler.load_state_dict(snap["scaler"])
    restore_rng(snap["rng"], state.generators)
    _restore_rank_generators(state, snap.get("rank_generators"), int(snap["images_seen"]))
    data = snap["data_state"]
    state.sampler = EpochSampler(
        state.dataset.count,
        options.batch_size,
        derived_seed(options.seed, DATA_ORDER_STREAM),
        epoch=data["epoch"],
        cursor=data["cursor"],
    )
    state.images_seen, ctx.step, state.tick = int(snap["images_seen"]), int(snap["step"]), int(snap["tick"])
    state.wall_seconds, state.last_snapshot = float(snap["wall_seconds"]), snapshot_path


def _restore_rank_generators(state: TrainState, saved: list[dict] | None, images_seen: int) -> None:
    """This rank's z/augmentation streams: saved ones under the same process count, else fresh per-rank seeds.

    Rank 0 always continues its saved streams (so 1 process after N, or N after 1, keeps rank 0's);
    other ranks of a different-sized job start new streams keyed by (seed, rank, images seen).
    """
    rank = state.dist.rank
    if saved is not None and len(saved) == state.dist.world_size:
        for name, gen in state.generators.items():
            gen.set_state(saved[rank][name])
    elif rank > 0:
        for name, stream in GENERATOR_STREAMS.items():
            state.generators[name].manual_seed(rank_seed(state.options.seed, stream, rank, images_seen))


@dataclass(frozen=True)
class Schedule:
    """When a session stops, ticks, snapshots and evaluates, in images (seconds for the wall clock)."""

    total_images: int | None
    max_seconds: float | None
    stop_images: int | None
    tick_images: int
    snapshot_images: int
    eval_images: int | None
    evaluate: bool

    @classmethod
    def of(cls, o: TrainOptions) -> Schedule:
        """The schedule of a run's options (kimg -> images, minutes -> seconds)."""
        images = lambda kimg: None if kimg is None else int(round(kimg * 1000))  # noqa: E731
        return cls(
            budget_images(o),  # --kimg, or the images a --budget-tflops buys (bench.train.budget)
            None if o.minutes is None else o.minutes * 60.0,
            images(o.stop_kimg),
            max(1, images(o.tick_kimg)),
            max(1, images(o.snapshot_kimg)),
            None if o.eval_kimg is None else max(1, images(o.eval_kimg)),
            bool(o.metrics),
        )

    def done_reason(self, images_seen: int, wall_seconds: float) -> str | None:
        """Why training must stop now, or None."""
        if self.total_images is not None and images_seen >= self.total_images:
            return "budget"
        if self.max_seconds is not None and wall_seconds >= self.max_seconds:
            return "minutes"
        if self.stop_images is not None and images_seen >= self.stop_images:
            return "stop-kimg"
        return None


def crossed(every: int, before: int, now: int) -> bool:
    """Whether counting from `before` to `now` passed a multiple of `every`."""
    return now // every != before // every


def training_loop(
    state: TrainState,
    run: RunDir,
    console: Console,
    hooks: TrainHooks,
    stop: StopRequest,
) -> TrainResult:
    """Train until the budget, the wall clock, --stop-kimg or a stop request; return where and why it stopped.

    One tick trains to the next multiple of --tick-kimg (or a stop) and ends with a stats line; a
    snapshot (with its sample grid) follows when one is due or the session stops, and the
    evaluation (`hooks.on_snapshot`) when one is due and the session was not interrupted.
    """
    s, ctx, device = Schedule.of(state.options), state.ctx, state.device
    if state.images_seen == 0:
        _write_grid(state, run, hooks)
    reason = s.done_reason(state.images_seen, state.wall_seconds)
    if reason is not None:
        return TrainResult(
            run.path, state.images_seen, state.wall_seconds, f"already done ({reason})", state.last_snapshot
        )
    session_start = time.monotonic() - state.wall_seconds  # the wall clock continues the earlier sessions'
    done = state.images_seen if s.total_images is not None else state.wall_seconds
    progress = training_progress(console, s.total_images, s.max_seconds, done)
    task = progress.task_ids[0]
    record = None
    with progress:
        while reason is None:
            # One tick.
            start_images, start_step, tick_start = state.images_seen, ctx.step, time.monotonic()
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            per_step: list[dict[str, Tensor]] = []
            while True:
                # One iteration: a D step and a G step on this rank's slice of the next global batch.
                batch = _global_batch(state, s.total_images)
                indices = rank_slice(state.sampler.next_indices(batch), state.dist)
                reals = fetch_batch(state.dataset.images, indices, device)
                z_dim = int(ctx.G_plain.z_dim)
                z_d = torch.randn(len(indices), z_dim, generator=state.generators["z"], device=device)
                z_g = torch.randn(len(indices), z_dim, generator=state.generators["z"], device=device)
                set_ema_decay(ctx.ema, state.ema_schedule.decay(state.images_seen))
                per_step.append(train_step(ctx, reals, z_d, z_g))  # advances ctx.step
                state.images_seen += batch
                state.wall_seconds = time.monotonic() - session_start
                if state.dist.enabled and s.max_seconds is not None:  # every rank stops at rank 0's clock
                    state.wall_seconds = distributed.broadcast_object(state.wall_seconds, state.dist)
                progress.update(task, completed=state.images_seen if s.total_images else state.wall_seconds)
                reason = s.done_reason(state.images_seen, state.wall_seconds) or (INTERRUPTED if stop else None)
                if reason is not None or crossed(s.tick_images, start_images, state.images_seen):
                    break
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            record = tick_record(state, run, per_step, start_images, start_step, time.monotonic() - tick_start)
            if state.dist.is_writer:
                run.append_stats(record)
                if hooks.on_tick is not None:
                    hooks.on_tick(record)
            log(state, run, tick_line(record))
            progress.update(
                task, **{k: display_number(getattr(record, k)) for k in ("img_per_sec", "loss_d", "loss_g")}
            )
            progress.line_now(task)  # without a terminal: one line per tick
            # The tick's end: a snapshot when due or stopping, then the evaluation when due.
            snapshot_due = reason is not None or crossed(s.snapshot_images, start_images, state.images_seen)
            eval_due = (
                s.evaluate
                and reason != INTERRUPTED
                and (reason is not None or crossed(s.eval_images, start_images, state.images_seen))
            )
            if snapshot_due or eval_due:
                path = write_snapshot(state, run, hooks)
                if eval_due:
                    eval_start = time.monotonic()
                    _evaluate(state, run, hooks, path)
                    session_start += time.monotonic() - eval_start  # evaluation is not training time
            state.wall_seconds = time.monotonic() - session_start
    log(state, run, f"stopped ({reason}) at {state.images_seen} images, {state.wall_seconds:.1f} s")
    return TrainResult(run.path, state.images_seen, state.wall_seconds, reason, state.last_snapshot, record)


def _global_batch(state: TrainState, total_images: int | None) -> int:
    """Images in the next global batch: --batch, or what is left of the budget.

    Under torchrun a remainder smaller than the process count is rounded up to one image per
    rank (a rank cannot step on an empty batch), overshooting the budget by under that count.
    """
    batch = state.options.batch_size
    if total_images is not None:
        batch = min(batch, total_images - state.images_seen)
    return max(batch, state.dist.world_size)


def rank_slice(indices: np.ndarray, dist_info: Dist) -> np.ndarray:
    """This rank's part of a global batch of indices (all of it when alone)."""
    if not dist_info.enabled:
        return indices
    sizes = distributed.split_sizes(len(indices), dist_info.world_size)
    start = sum(sizes[: dist_info.rank])
    return indices[start : start + sizes[dist_info.rank]]


class TrainingDiverged(UserError):
    """A loss became NaN or Inf; the run stopped without writing the broken weights."""


def tick_record(
    state: TrainState,
    run: RunDir,
    per_step: list[dict[str, Tensor]],
    start_images: int,
    start_step: int,
    train_seconds: float,
) -> StatsLine:
    """Check the tick's losses are finite (else stop the run), count the tick, and return its stats line.

    The line holds rank-averaged means over the steps that fp16 loss scaling did not skip.
    """
    keys = (*STAT_KEYS, *SKIP_KEYS)
    table = torch.stack([torch.stack([s[k].float().to(state.device) for k in keys]) for s in per_step])
    # Every rank sees the same averaged table, so all of them stop together on a NaN.
    table = distributed.mean_over_ranks(table, state.dist).cpu()
    stacked = {k: table[:, i] for i, k in enumerate(keys)}
    # Steps that fp16 loss scaling skipped changed no weight: their inf/NaN losses are not divergence.
    applied = (stacked["amp_skipped_d"] + stacked["amp_skipped_g"]) == 0
    for i in range(len(per_step)):
        for key in LOSS_KEYS:
            value = float(stacked[key][i])
            if applied[i] and not math.isfinite(value):
                _diverged(state, run, key, value, start_step + i)
    scaler = state.ctx.scaler
    if scaler.is_enabled() and scaler.get_scale() < MIN_LOSS_SCALE:
        _diverged(state, run, "the fp16 loss scale", scaler.get_scale(), state.ctx.step - 1)  # every step overflowed
    state.tick += 1
    images = state.images_seen - start_images
    means = {k: float(stacked[k][applied].mean()) if applied.any() else None for k in STAT_KEYS}
    record = StatsLine(
        tick=state.tick,
        step=state.ctx.step,
        images_seen=state.images_seen,
        kimg=state.images_seen / 1000,
        wall_s=round(state.wall_seconds, 3),
        tick_s=round(train_seconds, 3),
        img_per_sec=round(images / max(train_seconds, 1e-9), 2),
        **means,
        amp_skipped_steps=int((~applied).sum()),
        peak_mem_bytes=peak_memory_bytes(state.device),
    )
    return record


def _diverged(state: TrainState, run: RunDir, key: str, value: float, step: int) -> None:
    """Stop the run: name the loss and step, keep every snapshot as it is."""
    last = state.last_snapshot
    keep = (
        f"the last good snapshot is {last}; resume from it with `ladabench train --resume {last}` "
        "(e.g. with --force and a lower --lr-g/--lr-d or --amp off)"
        if last is not None
        else "no snapshot had been written yet"
    )
    message = f"{key} became {value} at step {step} (0-based iteration); training stopped; {keep}"
    log(state, run, "error: " + message)
    raise TrainingDiverged(message)


def tick_line(record: StatsLine) -> str:
    """The log.txt line of a tick."""
    shown = {k: display_number(getattr(record, k)) for k in STAT_KEYS}
    return (
        f"tick {record.tick}: kimg {record.kimg:.3f}  {record.img_per_sec:.1f} img/s  "
        f"loss_d {shown['loss_d']:.4f}  loss_g {shown['loss_g']:.4f}  "
        f"r1 {shown['r1']:.3g}  cr {shown['cr']:.3g}  amp skipped {record.amp_skipped_steps}"
    )


def display_number(value: float | None) -> float:
    """A stats value for display (None, a tick whose steps were all skipped, shows as nan)."""
    return math.nan if value is None else value


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory: CUDA bytes allocated since the last reset on GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def write_snapshot(state: TrainState, run: RunDir, hooks: TrainHooks) -> Path:
    """Save a snapshot and the matching sample grid (rank 0), then keep only the newest --keep-snapshots."""
    path = run.snapshot_path(state.images_seen)
    snap = snapshot(state)  # a collective under torchrun: every rank takes part
    state.last_snapshot = path
    _check_ranks_agree(state, run)
    if not state.dist.is_writer:
        return path
    save_snapshot(path, snap)
    _write_grid(state, run, hooks)
    log(state, run, f"snapshot {path.name} at {state.images_seen} images")
    keep = int(state.options.keep_snapshots)
    for old in prune(run, keep, newest=path):
        log(state, run, f"removed {old.name} (--keep-snapshots {keep})")
    return path


def _write_grid(state: TrainState, run: RunDir, hooks: TrainHooks) -> None:
    """The fixed-latent sample grid of G_ema at the images seen so far (rank 0)."""
    if not state.dist.is_writer:
        return
    path = run.samples_path(state.images_seen)
    save_grid(path, render_grid(state.ctx.ema.module, state.grid_latents, state.device))
    if hooks.on_grid is not None:
        hooks.on_grid(state.images_seen / 1000, path)


def _check_ranks_agree(state: TrainState, run: RunDir) -> None:
    """Under torchrun, verify every rank holds the same G, D and G_ema parameters (DDP keeps them in sync).

    Buffers are left out: BatchNorm running statistics are per rank by design.
    """
    if not state.dist.enabled:
        return
    ctx = state.ctx
    params = {
        name: dict(m.named_parameters()) for name, m in (("G", ctx.G_plain), ("D", ctx.D), ("G_ema", ctx.ema.module))
    }
    digests = distributed.gather_objects(snapshot_checksum(params), state.dist)
    if len(set(digests)) != 1:
        raise RuntimeError(f"weights differ across ranks at {state.images_seen} images: {digests}")
    log(state, run, f"weights identical on all {state.dist.world_size} ranks at {state.images_seen} images")


def _evaluate(state: TrainState, run: RunDir, hooks: TrainHooks, snapshot_path: Path) -> None:
    """Run the requested metrics on a snapshot and log their lines (rank 0; the others wait at the next step)."""
    if hooks.on_snapshot is None or not state.dist.is_writer:
        return
    rows = hooks.on_snapshot(run, snapshot_path, str(state.device))
    for row in rows:
        log(state, run, f"metric {row}")
    if hooks.on_metrics is not None:
        hooks.on_metrics(state.images_seen / 1000, rows)


def log(state: TrainState, run: RunDir, message: str) -> None:
    """A log.txt line (rank 0 only)."""
    if state.dist.is_writer:
        run.log(message)
