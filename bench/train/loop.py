"""The training loop: build, restore, iterate steps, and at every tick log stats, snapshot and evaluate.

Budget (design: real images shown to D): training stops at exactly `total_kimg * 1000` images; when
that is not a whole number of batches, the last iteration uses a smaller batch (D and G steps alike).
`--minutes` stops after the iteration in which the wall clock (summed over sessions; snapshots
count, in-training evaluation does not) runs out;
`--stop-kimg` ends a session at the first whole batch past it, keeping the budget for `--resume`.
Under torchrun every rank runs this loop on its slice of each global batch (see `distributed`);
only rank 0 writes the run directory.
"""

from __future__ import annotations

import math
import random
import resource
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

from bench.core.errors import UserError
from bench.core.rundir import RunDir
from bench.registry import get_model
from bench.train import distributed
from bench.train.distributed import Dist
from bench.train.ema import EmaSchedule, ema_state_dict, load_ema_state_dict, set_ema_decay
from bench.train.ema_start import initial_ema_state
from bench.train.options import TrainOptions
from bench.train.progress import training_progress
from bench.train.sampler import EpochSampler, fetch_batch
from bench.train.samples import fixed_latents, render_grid, save_grid
from bench.train.seeds import EMA_INIT_STREAM, GENERATOR_STREAMS, derived_seed, rank_seed
from bench.train.snapshots import prune
from bench.train.state import capture_rng, restore_rng, save_snapshot, snapshot_checksum
from bench.train.step import AMP_DTYPES, make_step_context, train_step

LOSS_KEYS = ("loss_d", "loss_g")
STAT_KEYS = ("loss_d", "loss_g", "r1", "cr", "grad_norm_d", "grad_norm_g")
SKIP_KEYS = ("amp_skipped_d", "amp_skipped_g")
MIN_LOSS_SCALE = 2.0**-24  # an fp16 scale this small means the gradients overflow at any scale


def _num(value: float | None) -> float:
    """A stats value for display (None, a tick whose steps were all skipped, shows as nan)."""
    return math.nan if value is None else value


OnTick = Callable[[dict[str, Any]], None]  # called with each tick's stats record (rank 0)
OnSnapshot = Callable[[RunDir, Path, str], list[Any]]  # (run, snapshot, device) -> result rows to log (rank 0)


class TrainingDiverged(UserError):
    """A loss became NaN or Inf; the run stopped without writing the broken weights."""


@dataclass
class Counters:
    """Counters that a snapshot stores and a resume restores."""

    images_seen: int = 0
    step: int = 0
    tick: int = 0
    wall_seconds: float = 0.0
    last_snapshot: Path | None = None


@dataclass
class TrainResult:
    """What the command prints at the end."""

    run_dir: Path
    images_seen: int
    wall_seconds: float
    stop_reason: str
    last_snapshot: Path | None
    last_stats: dict[str, Any] = field(default_factory=dict)


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory: CUDA bytes allocated since the last reset on GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def seeded_models(options: TrainOptions) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as a run with these options starts: global RNGs seeded with the run's seed, then built."""
    torch.manual_seed(options.seed)
    np.random.seed(options.seed % 2**32)
    random.seed(options.seed)
    spec = get_model(options.model)
    return spec.build(spec.presets[options.preset])


class Trainer:
    """One training session of a run: models, optimizers, data and counters, created or restored."""

    def __init__(self, run: RunDir, options: TrainOptions, dataset: Any, console: Console, dist_info: Dist | None = None,
                 on_tick: OnTick | None = None, on_snapshot: OnSnapshot | None = None):
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
        self.ctx = make_step_context(self.G_plain, self.D, options, self.device.type, AMP_DTYPES[options.amp],
                                     self.generators["augment"])
        self.ema, self.opt_g, self.opt_d, self.scaler = self.ctx.ema, self.ctx.opt_g, self.ctx.opt_d, self.ctx.scaler
        load_ema_state_dict(self.ema, initial_ema_state(
            self.G_plain, options.ema_start, lambda: spec.build(preset)[0], derived_seed(seed, EMA_INIT_STREAM)))
        self.ema_schedule = EmaSchedule(options.ema_decay, options.ema_halflife_kimg, options.ema_rampup, options.batch_size)
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

    def _wrap_ddp(self) -> tuple[nn.Module, nn.Module]:
        """G and the D pair under DistributedDataParallel.

        No SyncBatchNorm and no buffer broadcast: BatchNorm statistics stay per rank, as on one GPU.
        """
        ids = [self.device.index] if self.device.type == "cuda" else None
        with warnings.catch_warnings():  # its deprecation note itself says to keep it for rank-local buffers
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
            return (DDP(self.G_plain, device_ids=ids, broadcast_buffers=False),
                    DDP(self.ctx.D_pair, device_ids=ids, broadcast_buffers=False))

    def log(self, message: str) -> None:
        """A log.txt line (rank 0 only)."""
        if self.dist.is_writer:
            self.rundir.log(message)

    # ----- snapshots -------------------------------------------------------------------------
    def snapshot_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit (see contracts.md for the key list)."""
        c = self.counters
        return {
            "G": self.G_plain.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": ema_state_dict(self.ema),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": capture_rng(self.generators),
            # every rank's own generator states, so a resume under the same process count is exact
            "rank_generators": distributed.gather_objects(
                {name: gen.get_state() for name, gen in self.generators.items()}, self.dist),
            "data_state": self.sampler.state(),
            "images_seen": c.images_seen,
            "step": c.step,
            "tick": c.tick,
            "wall_seconds": c.wall_seconds,
            "options": self.options.to_json(),
        }

    def restore(self, snapshot_path: Path, snap: dict[str, Any]) -> None:
        """Continue from a loaded snapshot: weights, optimizers, scaler, RNGs, data order and counters."""
        self.G_plain.load_state_dict(snap["G"])
        self.D.load_state_dict(snap["D"])
        load_ema_state_dict(self.ema, snap["G_ema"])
        self.opt_g.load_state_dict(snap["opt_g"])
        self.opt_d.load_state_dict(snap["opt_d"])
        self.scaler.load_state_dict(snap["scaler"])
        restore_rng(snap["rng"], self.generators)
        self._restore_rank_generators(snap)
        data = snap["data_state"]
        self.sampler = EpochSampler(
            self.dataset.count, self.options.batch_size, derived_seed(self.options.seed, 0),
            epoch=data["epoch"], cursor=data["cursor"],
        )
        self.counters = Counters(
            images_seen=int(snap["images_seen"]), step=int(snap["step"]), tick=int(snap["tick"]),
            wall_seconds=float(snap["wall_seconds"]), last_snapshot=snapshot_path,
        )
        if self.dist.is_writer:
            self.rundir.truncate_stats(self.counters.images_seen)

    def _restore_rank_generators(self, snap: dict[str, Any]) -> None:
        """This rank's z/augmentation streams: saved ones under the same process count, else fresh per-rank seeds.

        Rank 0 always continues its saved streams (so 1 process after N, or N after 1, keeps rank 0's);
        other ranks of a different-sized job start new streams keyed by (seed, rank, images seen).
        """
        saved = snap.get("rank_generators")
        if saved is not None and len(saved) == self.dist.world_size:
            for name, gen in self.generators.items():
                gen.set_state(saved[self.dist.rank][name])
        elif self.dist.rank > 0:
            for name, stream in GENERATOR_STREAMS.items():
                self.generators[name].manual_seed(
                    rank_seed(self.options.seed, stream, self.dist.rank, int(snap["images_seen"])))

    def write_snapshot(self) -> Path:
        """Save a snapshot and the matching sample grid (rank 0), then keep only the newest --keep-snapshots."""
        path = self.rundir.snapshot_path(self.counters.images_seen)
        snap = self.snapshot_dict()  # a collective under torchrun: every rank takes part
        self.counters.last_snapshot = path
        self._check_ranks_agree()
        if not self.dist.is_writer:
            return path
        save_snapshot(path, snap)
        save_grid(self.rundir.samples_path(self.counters.images_seen), render_grid(self.ema.module, self.grid_latents, self.device))
        self.log(f"snapshot {path.name} at {self.counters.images_seen} images")
        for old in prune(self.rundir, self.keep_snapshots, newest=path):
            self.log(f"removed {old.name} (--keep-snapshots {self.keep_snapshots})")
        return path

    # ----- the loop ---------------------------------------------------------------------------
    def budget_images(self) -> int | None:
        """The budget in images (None: wall clock only)."""
        total = self.options.total_kimg
        return None if total is None else int(round(total * 1000))

    def run(self) -> TrainResult:
        """Train until the budget, the wall clock or --stop-kimg; return where and why it stopped."""
        opts, c = self.options, self.counters
        total_images = self.budget_images()
        max_seconds = None if opts.minutes is None else opts.minutes * 60.0
        stop_images = None if opts.stop_kimg is None else int(round(opts.stop_kimg * 1000))
        tick_images = max(1, int(round(opts.tick_kimg * 1000)))
        snapshot_images = max(1, int(round(opts.snapshot_kimg * 1000)))
        eval_images = None if opts.eval_kimg is None else max(1, int(round(opts.eval_kimg * 1000)))
        if c.images_seen == 0 and self.dist.is_writer:
            save_grid(self.rundir.samples_path(0), render_grid(self.ema.module, self.grid_latents, self.device))

        def done_reason() -> str | None:
            """Why training must stop now, or None."""
            if total_images is not None and c.images_seen >= total_images:
                return "budget"
            if max_seconds is not None and c.wall_seconds >= max_seconds:
                return "minutes"
            if stop_images is not None and c.images_seen >= stop_images:
                return "stop-kimg"
            return None

        reason = done_reason()
        last_stats: dict[str, Any] = {}
        if reason is not None:
            return TrainResult(self.rundir.path, c.images_seen, c.wall_seconds, f"already done ({reason})", c.last_snapshot)
        session_start = time.monotonic() - c.wall_seconds
        progress = training_progress(self.console, total_images, None if opts.minutes is None else opts.minutes * 60.0,
                                     c.images_seen if total_images is not None else c.wall_seconds)
        task = progress.task_ids[0]
        with progress:
            while reason is None:
                tick_start_images, tick_start_step, tick_start_time = c.images_seen, c.step, time.monotonic()
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                per_step: list[dict[str, torch.Tensor]] = []
                while True:  # one tick
                    batch = self._global_batch(total_images)
                    indices = self._rank_slice(self.sampler.next_indices(batch))
                    reals = fetch_batch(self.dataset.images, indices, self.device)
                    gen_z = self.generators["z"]
                    z_d = torch.randn(len(indices), self.z_dim, generator=gen_z, device=self.device)
                    z_g = torch.randn(len(indices), self.z_dim, generator=gen_z, device=self.device)
                    set_ema_decay(self.ema, self.ema_schedule.decay(c.images_seen))
                    per_step.append(train_step(self.ctx, reals, z_d, z_g))
                    c.images_seen += batch
                    c.step += 1
                    c.wall_seconds = time.monotonic() - session_start
                    if self.dist.enabled and max_seconds is not None:  # every rank stops at rank 0's clock
                        c.wall_seconds = distributed.broadcast_object(c.wall_seconds, self.dist)
                    progress.update(task, completed=c.images_seen if total_images else c.wall_seconds)
                    reason = done_reason()
                    if reason is not None or c.images_seen // tick_images != tick_start_images // tick_images:
                        break
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                train_seconds = time.monotonic() - tick_start_time
                last_stats = self._end_tick(per_step, tick_start_images, tick_start_step, train_seconds)
                progress.update(task, **{k: _num(last_stats[k]) for k in ("img_per_sec", "loss_d", "loss_g")})
                progress.line_now(task)  # without a terminal: one line per tick
                due = reason is not None or (
                    c.images_seen // snapshot_images != tick_start_images // snapshot_images
                )
                eval_due = bool(opts.metrics) and (
                    reason is not None or c.images_seen // eval_images != tick_start_images // eval_images
                )
                if due or eval_due:
                    path = self.write_snapshot()
                    if eval_due:
                        eval_start = time.monotonic()
                        self._evaluate(path)
                        session_start += time.monotonic() - eval_start  # evaluation is not training time
                c.wall_seconds = time.monotonic() - session_start
        self.log(f"stopped ({reason}) at {c.images_seen} images, {c.wall_seconds:.1f} s")
        return TrainResult(self.rundir.path, c.images_seen, c.wall_seconds, reason, c.last_snapshot, last_stats)

    def _check_ranks_agree(self) -> None:
        """Under torchrun, verify every rank holds the same G, D and G_ema parameters (DDP keeps them in sync).

        Buffers are left out: BatchNorm running statistics are per rank by design.
        """
        if not self.dist.enabled:
            return
        params = {name: dict(m.named_parameters()) for name, m in
                  (("G", self.G_plain), ("D", self.D), ("G_ema", self.ema.module))}
        digests = distributed.gather_objects(snapshot_checksum(params), self.dist)
        if len(set(digests)) != 1:
            raise RuntimeError(f"weights differ across ranks at {self.counters.images_seen} images: {digests}")
        self.log(f"weights identical on all {self.dist.world_size} ranks at {self.counters.images_seen} images")

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

    def _end_tick(self, per_step: list[dict], start_images: int, start_step: int, train_seconds: float) -> dict:
        """Check the tick's losses are finite, then append their rank-averaged means to stats.jsonl and log.txt."""
        c = self.counters
        keys = (*STAT_KEYS, *SKIP_KEYS)
        table = torch.stack([torch.stack([s[k].float().to(self.device) for k in keys]) for s in per_step])
        # Every rank sees the same averaged table, so all of them stop together on a NaN.
        table = distributed.mean_over_ranks(table, self.dist).cpu()
        stacked = {k: table[:, i] for i, k in enumerate(keys)}
        # Steps that fp16 loss scaling skipped changed no weight: their inf/NaN losses are not divergence.
        applied = (stacked["amp_skipped_d"] + stacked["amp_skipped_g"]) == 0
        for i in range(len(per_step)):
            for key in LOSS_KEYS:
                value = float(stacked[key][i])
                if applied[i] and not math.isfinite(value):
                    self._diverged(key, value, start_step + i)
        if self.scaler.is_enabled() and self.scaler.get_scale() < MIN_LOSS_SCALE:
            self._diverged("the fp16 loss scale", self.scaler.get_scale(), c.step - 1)  # every step overflowed
        c.tick += 1
        images = c.images_seen - start_images
        means = {k: float(stacked[k][applied].mean()) if applied.any() else None for k in STAT_KEYS}
        record = {
            "tick": c.tick,
            "step": c.step,
            "images_seen": c.images_seen,
            "kimg": c.images_seen / 1000,
            "wall_s": round(c.wall_seconds, 3),
            "tick_s": round(train_seconds, 3),
            "img_per_sec": round(images / max(train_seconds, 1e-9), 2),
            **means,
            "amp_skipped_steps": int((~applied).sum()),
            "peak_mem_bytes": peak_memory_bytes(self.device),
        }
        if self.dist.is_writer:
            self.rundir.append_stats(record)
            if self.on_tick is not None:
                self.on_tick(record)
        self.log(
            f"tick {c.tick}: kimg {record['kimg']:.3f}  {record['img_per_sec']:.1f} img/s  "
            f"loss_d {_num(record['loss_d']):.4f}  loss_g {_num(record['loss_g']):.4f}  "
            f"r1 {_num(record['r1']):.3g}  cr {_num(record['cr']):.3g}  amp skipped {record['amp_skipped_steps']}",
        )
        return record

    def _diverged(self, key: str, value: float, step: int) -> None:
        """Stop the run: name the loss and step, keep every snapshot as it is."""
        last = self.counters.last_snapshot
        keep = (
            f"the last good snapshot is {last}; resume from it with `ladabench train --resume {last}` "
            "(e.g. with --force and a lower --lr-g/--lr-d or --amp off)"
            if last is not None
            else "no snapshot had been written yet"
        )
        message = f"{key} became {value} at step {step} (0-based iteration); training stopped; {keep}"
        self.log("error: " + message)
        raise TrainingDiverged(message)

    def _evaluate(self, snapshot_path: Path) -> None:
        """Run the requested metrics on a snapshot and log their lines (rank 0; the others wait at the next step)."""
        if self.on_snapshot is None:
            return
        rows = self.on_snapshot(self.rundir, snapshot_path, str(self.device))
        for row in rows:
            self.log(f"metric {row}")
