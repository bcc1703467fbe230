"""The training loop: build, restore, iterate steps, and at every tick log stats, snapshot and evaluate.

Budget (real images shown to D): training stops at exactly `total_kimg * 1000` images; when
that is not a whole number of batches, the last iteration uses a smaller batch (D and G steps alike).
`--minutes` stops after the iteration in which the wall clock (summed over sessions; snapshots
count, in-training evaluation does not) runs out;
`--stop-kimg` ends a session at the first whole batch past it, keeping the budget for `--resume`.
Under torchrun every rank runs this loop on its slice of each global batch (see `distributed`);
only rank 0 writes the run directory.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from bench.core.progress import LoggedProgress
from bench.core.rundir import RunDir
from bench.registry import get_model
from bench.train import distributed
from bench.train.checkpoint import Checkpointing, Counters
from bench.train.distributed import Dist
from bench.train.ema import EmaSchedule, load_ema_state_dict, set_ema_decay
from bench.train.ema_start import initial_ema_state
from bench.train.interrupt import StopRequest
from bench.train.options import TrainOptions
from bench.train.progress import training_progress
from bench.train.sampler import EpochSampler, fetch_batch
from bench.train.samples import fixed_latents, render_grid, save_grid
from bench.train.seeds import EMA_INIT_STREAM, GENERATOR_STREAMS, derived_seed, rank_seed
from bench.train.step import AMP_DTYPES, make_step_context, train_step
from bench.train.ticks import TickStats, display_number

INTERRUPTED = "interrupted"  # the stop reason of a session ended by SIGINT/SIGTERM
OnTick = Callable[[dict[str, Any]], None]  # called with each tick's stats record (rank 0)
OnSnapshot = Callable[[RunDir, Path, str], list[Any]]  # (run, snapshot, device) -> result rows to log (rank 0)


@dataclass
class TrainResult:
    """What the command prints at the end."""

    run_dir: Path
    images_seen: int
    wall_seconds: float
    stop_reason: str
    last_snapshot: Path | None
    last_stats: dict[str, Any] = field(default_factory=dict)


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
            images(o.total_kimg),
            None if o.minutes is None else o.minutes * 60.0,
            images(o.stop_kimg),
            max(1, images(o.tick_kimg)),
            max(1, images(o.snapshot_kimg)),
            None if o.eval_kimg is None else max(1, images(o.eval_kimg)),
            bool(o.metrics),
        )

    def done_reason(self, c: Counters) -> str | None:
        """Why training must stop now, or None."""
        if self.total_images is not None and c.images_seen >= self.total_images:
            return "budget"
        if self.max_seconds is not None and c.wall_seconds >= self.max_seconds:
            return "minutes"
        if self.stop_images is not None and c.images_seen >= self.stop_images:
            return "stop-kimg"
        return None


def seeded_models(options: TrainOptions) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as a run with these options starts: global RNGs seeded with the run's seed, then built."""
    torch.manual_seed(options.seed)
    np.random.seed(options.seed % 2**32)
    random.seed(options.seed)
    spec = get_model(options.model)
    return spec.build_models(spec.presets[options.preset])


def crossed(every: int, before: int, now: int) -> bool:
    """Whether counting from `before` to `now` passed a multiple of `every`."""
    return now // every != before // every


class Trainer(Checkpointing, TickStats):
    """One training session of a run: models, optimizers, data and counters, created or restored."""

    def __init__(
        self,
        run: RunDir,
        options: TrainOptions,
        dataset: Any,
        console: Console,
        dist_info: Dist | None = None,
        on_tick: OnTick | None = None,
        on_snapshot: OnSnapshot | None = None,
    ):
        """Build everything from `options` on the opened `dataset`; `dist_info`: this rank's role; callbacks: see `train`."""
        self.rundir, self.options, self.dataset, self.console = run, options, dataset, console
        self.dist = dist_info or Dist()
        self.device = torch.device(distributed.rank_device(options.device, self.dist))
        seed = options.seed
        G, D = seeded_models(options)
        spec = get_model(options.model)
        preset = spec.presets[options.preset]  # G_ema's fresh start builds another G from it
        self.G_plain, self.D = G.to(self.device), D.to(self.device)
        # Separate generators: z and augmentation draws do not shift when a model consumes global RNG.
        # Each rank draws its own (per-rank seeds); the data order is global (one sampler, sliced).
        self.generators = {
            name: torch.Generator(self.device).manual_seed(rank_seed(seed, stream, self.dist.rank))
            for name, stream in GENERATOR_STREAMS.items()
        }
        self.ctx = make_step_context(
            self.G_plain,
            self.D,
            options,
            self.device.type,
            AMP_DTYPES[options.amp],
            self.generators["augment"],
            options.r1_interval,
        )
        self.ema, self.opt_g, self.opt_d, self.scaler = self.ctx.ema, self.ctx.opt_g, self.ctx.opt_d, self.ctx.scaler
        load_ema_state_dict(
            self.ema,
            initial_ema_state(
                self.G_plain, options.ema_start, lambda: spec.build(preset)[0], derived_seed(seed, EMA_INIT_STREAM)
            ),
        )
        self.ema_schedule = EmaSchedule(
            options.ema_decay, options.ema_halflife_kimg, options.ema_rampup, options.batch_size
        )
        self.sampler = EpochSampler(dataset.count, options.batch_size, derived_seed(seed, 0))
        self.z_dim = int(self.G_plain.z_dim)
        self.grid_latents = fixed_latents(self.z_dim, derived_seed(seed, 3))
        if self.dist.enabled:
            self.ctx.G, self.ctx.D_pair = self._wrap_ddp()
        # torch.compile cannot differentiate twice (R1), so only G is compiled; D stays eager.
        self.ctx.G = torch.compile(self.ctx.G) if options.compile else self.ctx.G
        self.counters = Counters()
        self.on_tick, self.on_snapshot = on_tick, on_snapshot
        self.keep_snapshots = int(options.keep_snapshots)
        self.stop: StopRequest | None = None  # set by the session: a signal asks to stop after the current iteration

    def _wrap_ddp(self) -> tuple[nn.Module, nn.Module]:
        """G and the D pair under DistributedDataParallel.

        No SyncBatchNorm and no buffer broadcast: BatchNorm statistics stay per rank, as on one GPU.
        """
        ids = [self.device.index] if self.device.type == "cuda" else None
        with warnings.catch_warnings():  # its deprecation note itself says to keep it for rank-local buffers
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
            return (
                DDP(self.G_plain, device_ids=ids, broadcast_buffers=False),
                DDP(self.ctx.D_pair, device_ids=ids, broadcast_buffers=False),
            )

    def log(self, message: str) -> None:
        """A log.txt line (rank 0 only)."""
        if self.dist.is_writer:
            self.rundir.log(message)

    def run(self) -> TrainResult:
        """Train until the budget, the wall clock or --stop-kimg; return where and why it stopped."""
        s, c = Schedule.of(self.options), self.counters
        if c.images_seen == 0 and self.dist.is_writer:
            save_grid(self.rundir.samples_path(0), render_grid(self.ema.module, self.grid_latents, self.device))
        reason = s.done_reason(c)
        if reason is not None:
            return TrainResult(
                self.rundir.path, c.images_seen, c.wall_seconds, f"already done ({reason})", c.last_snapshot
            )
        self.session_start = time.monotonic() - c.wall_seconds
        progress = training_progress(
            self.console, s.total_images, s.max_seconds, c.images_seen if s.total_images is not None else c.wall_seconds
        )
        last_stats: dict[str, Any] = {}
        with progress:
            while reason is None:
                reason, last_stats = self._tick(s, progress)
        self.log(f"stopped ({reason}) at {c.images_seen} images, {c.wall_seconds:.1f} s")
        return TrainResult(self.rundir.path, c.images_seen, c.wall_seconds, reason, c.last_snapshot, last_stats)

    def _tick(self, s: Schedule, progress: LoggedProgress) -> tuple[str | None, dict[str, Any]]:
        """Train one tick (to the next multiple of the tick length, or a stop); stats, snapshot, evaluation."""
        c, task = self.counters, progress.task_ids[0]
        start_images, start_step, start_time = c.images_seen, c.step, time.monotonic()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        per_step: list[dict[str, torch.Tensor]] = []
        while True:
            per_step.append(self._iteration(s))
            progress.update(task, completed=c.images_seen if s.total_images else c.wall_seconds)
            reason = s.done_reason(c) or (INTERRUPTED if self.stop else None)
            if reason is not None or crossed(s.tick_images, start_images, c.images_seen):
                break
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        stats = self._end_tick(per_step, start_images, start_step, time.monotonic() - start_time)
        progress.update(task, **{k: display_number(stats[k]) for k in ("img_per_sec", "loss_d", "loss_g")})
        progress.line_now(task)  # without a terminal: one line per tick
        snapshot_due = reason is not None or crossed(s.snapshot_images, start_images, c.images_seen)
        eval_due = (
            s.evaluate
            and reason != INTERRUPTED
            and (reason is not None or crossed(s.eval_images, start_images, c.images_seen))
        )
        if snapshot_due or eval_due:
            path = self.write_snapshot()
            if eval_due:
                eval_start = time.monotonic()
                self._evaluate(path)
                self.session_start += time.monotonic() - eval_start  # evaluation is not training time
        c.wall_seconds = time.monotonic() - self.session_start
        return reason, stats

    def _iteration(self, s: Schedule) -> dict[str, torch.Tensor]:
        """One D step and one G step on the next global batch (this rank's slice); advance the counters."""
        c = self.counters
        batch = self._global_batch(s.total_images)
        indices = self._rank_slice(self.sampler.next_indices(batch))
        reals = fetch_batch(self.dataset.images, indices, self.device)
        gen_z = self.generators["z"]
        z_d = torch.randn(len(indices), self.z_dim, generator=gen_z, device=self.device)
        z_g = torch.randn(len(indices), self.z_dim, generator=gen_z, device=self.device)
        set_ema_decay(self.ema, self.ema_schedule.decay(c.images_seen))
        self.ctx.step = c.step  # lazy R1 keys on the run's iteration count, which snapshots keep
        stats = train_step(self.ctx, reals, z_d, z_g)
        c.images_seen += batch
        c.step += 1
        c.wall_seconds = time.monotonic() - self.session_start
        if self.dist.enabled and s.max_seconds is not None:  # every rank stops at rank 0's clock
            c.wall_seconds = distributed.broadcast_object(c.wall_seconds, self.dist)
        return stats

    def _global_batch(self, total_images: int | None) -> int:
        """Images in the next global batch: --batch, or what is left of the budget.

        Under torchrun a remainder smaller than the process count is rounded up to one image per
        rank (a rank cannot step on an empty batch), overshooting the budget by under that count.
        """
        batch = self.options.batch_size
        if total_images is not None:
            batch = min(batch, total_images - self.counters.images_seen)
        return max(batch, self.dist.world_size)

    def _rank_slice(self, indices: np.ndarray) -> np.ndarray:
        """This rank's part of a global batch of indices (all of it when alone)."""
        if not self.dist.enabled:
            return indices
        sizes = distributed.split_sizes(len(indices), self.dist.world_size)
        start = sum(sizes[: self.dist.rank])
        return indices[start : start + sizes[self.dist.rank]]

    def _evaluate(self, snapshot_path: Path) -> None:
        """Run the requested metrics on a snapshot and log their lines (rank 0; the others wait at the next step)."""
        if self.on_snapshot is None:
            return
        rows = self.on_snapshot(self.rundir, snapshot_path, str(self.device))
        for row in rows:
            self.log(f"metric {row}")
