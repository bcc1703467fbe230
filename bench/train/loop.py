"""The training loop: build, restore, iterate steps, and at every tick log stats, snapshot and evaluate.

Budget (design: real images shown to D): training stops at exactly `total_kimg * 1000` images; when
that is not a whole number of batches, the last iteration uses a smaller batch (D and G steps alike).
`--minutes` stops after the iteration in which the wall clock (summed over sessions; snapshots
count, in-training evaluation does not) runs out;
`--stop-kimg` ends a session at the first whole batch past it, keeping the budget for `--resume`.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bench.errors import UserError
from bench.train import rundir
from bench.train.augment import diff_augment
from bench.train.ema import ema_state_dict, load_ema_state_dict, make_ema
from bench.train.sampler import EpochSampler, fetch_batch
from bench.train.samples import fixed_latents, render_grid, save_grid
from bench.train.state import capture_rng, load_snapshot, restore_rng, save_snapshot
from bench.train.step import StepContext, train_step

LOSS_KEYS = ("loss_d", "loss_g")
STAT_KEYS = ("loss_d", "loss_g", "r1", "grad_norm_d", "grad_norm_g")
SKIP_KEYS = ("amp_skipped_d", "amp_skipped_g")
MIN_LOSS_SCALE = 2.0**-24  # an fp16 scale this small means the gradients overflow at any scale


def _num(value: float | None) -> float:
    """A stats value for display (None, a tick whose steps were all skipped, shows as nan)."""
    return math.nan if value is None else value


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


def derived_seed(seed: int, stream: int) -> int:
    """An independent 63-bit seed per random stream (data order, z, augmentation, sample grid)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def determinism(deterministic: bool, device: torch.device):
    """Deterministic kernels inside the block when asked (bitwise-repeatable runs); restored after.

    Without it cuDNN may pick the fastest (non-deterministic) kernels on GPU.
    """
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    if deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if saved[0] != deterministic:  # the call imports torch._inductor (seconds): only when it changes
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic and device.type == "cuda"
    try:
        yield
    finally:
        if torch.are_deterministic_algorithms_enabled() != saved[0]:
            torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]


def metrics_hook(options: dict[str, Any]) -> Callable | None:
    """`bench.metrics.evaluate.evaluate_snapshot` when --metrics is given (imported only then)."""
    if not options["metrics"]:
        return None
    try:
        from bench.metrics.evaluate import evaluate_snapshot
        from bench.metrics.names import parse_metric_name
    except ImportError as exc:
        raise UserError(
            f"--metrics {','.join(options['metrics'])}: metrics are not available yet in this install "
            f"({exc}); train without --metrics and evaluate later with `ladabench eval RUN`"
        ) from exc
    for name in options["metrics"]:
        parse_metric_name(name)  # a typo fails now, not after the first snapshot
    return evaluate_snapshot


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory: CUDA bytes allocated since the last reset on GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


class Trainer:
    """One training session of a run: models, optimizers, data and counters, created or restored."""

    def __init__(self, run_dir: Path, options: dict[str, Any], dataset: Any, console: Console):
        """Build everything from `options`; `dataset` is the opened PreparedDataset."""
        from bench.registry import get_model

        self.run_dir, self.options, self.dataset, self.console = run_dir, options, dataset, console
        self.device = torch.device(options["device"])
        seed = options["seed"]
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        spec = get_model(options["model"])
        G, D = spec.build(spec.presets[options["preset"]])
        self.G_plain, self.D = G.to(self.device), D.to(self.device)
        self.ema = make_ema(self.G_plain, options["ema_decay"])
        adam = dict(betas=tuple(options["betas"]), eps=options["adam_eps"])
        self.opt_g = torch.optim.Adam(self.G_plain.parameters(), lr=options["lr_g"], **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=options["lr_d"], **adam)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=options["amp"] == "fp16")
        # Separate generators: z and augmentation draws do not shift when a model consumes global RNG.
        self.generators = {
            "z": torch.Generator(self.device).manual_seed(derived_seed(seed, 1)),
            "augment": torch.Generator(self.device).manual_seed(derived_seed(seed, 2)),
        }
        self.sampler = EpochSampler(dataset.count, options["batch_size"], derived_seed(seed, 0))
        self.z_dim = int(self.G_plain.z_dim)
        self.grid_latents = fixed_latents(self.z_dim, derived_seed(seed, 3))
        # torch.compile cannot differentiate twice (R1), so only G is compiled; D stays eager.
        G_run = torch.compile(self.G_plain) if options["compile"] else self.G_plain
        amp_dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[options["amp"]]
        policy, aug_gen = options["augment"], self.generators["augment"]
        self.ctx = StepContext(
            G=G_run, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d, ema=self.ema, G_plain=self.G_plain,
            scaler=self.scaler, augment=lambda x: diff_augment(x, policy, aug_gen), r1_gamma=options["r1_gamma"],
            amp_dtype=amp_dtype, device_type=self.device.type,
        )
        self.counters = Counters()
        self.evaluate = metrics_hook(options)

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
            "data_state": self.sampler.state(),
            "images_seen": c.images_seen,
            "step": c.step,
            "tick": c.tick,
            "wall_seconds": c.wall_seconds,
            "options": self.options,
        }

    def restore(self, snapshot_path: Path) -> None:
        """Continue from a snapshot: weights, optimizers, scaler, RNGs, data order and counters."""
        try:
            snap = load_snapshot(snapshot_path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
            raise UserError(f"cannot read snapshot {snapshot_path} ({exc}); resume from an older snapshot file") from exc
        self.G_plain.load_state_dict(snap["G"])
        self.D.load_state_dict(snap["D"])
        load_ema_state_dict(self.ema, snap["G_ema"])
        self.opt_g.load_state_dict(snap["opt_g"])
        self.opt_d.load_state_dict(snap["opt_d"])
        self.scaler.load_state_dict(snap["scaler"])
        restore_rng(snap["rng"], self.generators)
        data = snap["data_state"]
        self.sampler = EpochSampler(
            self.dataset.count, self.options["batch_size"], derived_seed(self.options["seed"], 0),
            epoch=data["epoch"], cursor=data["cursor"],
        )
        self.counters = Counters(
            images_seen=int(snap["images_seen"]), step=int(snap["step"]), tick=int(snap["tick"]),
            wall_seconds=float(snap["wall_seconds"]), last_snapshot=snapshot_path,
        )
        rundir.truncate_stats(self.run_dir, self.counters.images_seen)

    def write_snapshot(self) -> Path:
        """Save a snapshot and the matching sample grid; evaluate it when --metrics asks."""
        tag = rundir.kimg_tag(self.counters.images_seen)
        path = self.run_dir / f"snapshot-{tag}.pt"
        save_snapshot(path, self.snapshot_dict())
        save_grid(self.run_dir / f"samples-{tag}.png", render_grid(self.ema.module, self.grid_latents, self.device))
        self.counters.last_snapshot = path
        rundir.log(self.run_dir, f"snapshot {path.name} at {self.counters.images_seen} images")
        return path

    # ----- the loop ---------------------------------------------------------------------------
    def budget_images(self) -> int | None:
        """The budget in images (None: wall clock only)."""
        total = self.options["total_kimg"]
        return None if total is None else int(round(total * 1000))

    def run(self) -> TrainResult:
        """Train until the budget, the wall clock or --stop-kimg; return where and why it stopped."""
        opts, c = self.options, self.counters
        total_images = self.budget_images()
        max_seconds = None if opts["minutes"] is None else opts["minutes"] * 60.0
        stop_images = None if opts.get("stop_kimg") is None else int(round(opts["stop_kimg"] * 1000))
        tick_images = max(1, int(round(opts["tick_kimg"] * 1000)))
        snapshot_images = max(1, int(round(opts["snapshot_kimg"] * 1000)))
        eval_images = None if opts["eval_kimg"] is None else max(1, int(round(opts["eval_kimg"] * 1000)))
        if c.images_seen == 0:
            save_grid(self.run_dir / "samples-000000.png", render_grid(self.ema.module, self.grid_latents, self.device))

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
            return TrainResult(self.run_dir, c.images_seen, c.wall_seconds, f"already done ({reason})", c.last_snapshot)
        session_start = time.monotonic() - c.wall_seconds
        progress = self._progress(total_images)
        task = progress.task_ids[0]
        with progress:
            while reason is None:
                tick_start_images, tick_start_step, tick_start_time = c.images_seen, c.step, time.monotonic()
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                per_step: list[dict[str, torch.Tensor]] = []
                while True:  # one tick
                    batch = opts["batch_size"] if total_images is None else min(opts["batch_size"], total_images - c.images_seen)
                    reals = fetch_batch(self.dataset.images, self.sampler.next_indices(batch), self.device)
                    gen_z = self.generators["z"]
                    z_d = torch.randn(batch, self.z_dim, generator=gen_z, device=self.device)
                    z_g = torch.randn(batch, self.z_dim, generator=gen_z, device=self.device)
                    per_step.append(train_step(self.ctx, reals, z_d, z_g))
                    c.images_seen += batch
                    c.step += 1
                    c.wall_seconds = time.monotonic() - session_start
                    progress.update(task, completed=c.images_seen if total_images else c.wall_seconds)
                    reason = done_reason()
                    if reason is not None or c.images_seen // tick_images != tick_start_images // tick_images:
                        break
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                train_seconds = time.monotonic() - tick_start_time
                last_stats = self._end_tick(per_step, tick_start_images, tick_start_step, train_seconds)
                progress.update(task, **{k: _num(last_stats[k]) for k in ("img_per_sec", "loss_d", "loss_g")})
                due = reason is not None or (
                    c.images_seen // snapshot_images != tick_start_images // snapshot_images
                )
                eval_due = self.evaluate is not None and (
                    reason is not None or c.images_seen // eval_images != tick_start_images // eval_images
                )
                if due or eval_due:
                    path = self.write_snapshot()
                    if eval_due:
                        eval_start = time.monotonic()
                        self._evaluate(path)
                        session_start += time.monotonic() - eval_start  # evaluation is not training time
                c.wall_seconds = time.monotonic() - session_start
        rundir.log(self.run_dir, f"stopped ({reason}) at {c.images_seen} images, {c.wall_seconds:.1f} s")
        return TrainResult(self.run_dir, c.images_seen, c.wall_seconds, reason, c.last_snapshot, last_stats)

    def _end_tick(self, per_step: list[dict], start_images: int, start_step: int, train_seconds: float) -> dict:
        """Check the tick's losses are finite, then append its averages to stats.jsonl and log.txt."""
        c = self.counters
        stacked = {k: torch.stack([s[k].float().cpu() for s in per_step]) for k in (*STAT_KEYS, *SKIP_KEYS)}
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
        rundir.append_stats(self.run_dir, record)
        rundir.log(
            self.run_dir,
            f"tick {c.tick}: kimg {record['kimg']:.3f}  {record['img_per_sec']:.1f} img/s  "
            f"loss_d {_num(record['loss_d']):.4f}  loss_g {_num(record['loss_g']):.4f}  "
            f"r1 {_num(record['r1']):.3g}  amp skipped {record['amp_skipped_steps']}",
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
        rundir.log(self.run_dir, "error: " + message)
        raise TrainingDiverged(message)

    def _evaluate(self, snapshot_path: Path) -> None:
        """Run the requested metrics on a snapshot and log their lines."""
        rows = self.evaluate(self.run_dir, snapshot_path, self.options["metrics"], str(self.device))
        for row in rows:
            rundir.log(self.run_dir, f"metric {row}")

    def _progress(self, total_images: int | None) -> Progress:
        """A rich progress bar over images (or over seconds when only --minutes bounds the run)."""
        by_images = total_images is not None
        progress = Progress(
            TextColumn("[bold]train[/]"),
            BarColumn(),
            BudgetColumn(by_images),
            TextColumn("{task.fields[img_per_sec]:.0f} img/s  loss D {task.fields[loss_d]:.3f}  G {task.fields[loss_g]:.3f}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        total = total_images if by_images else self.options["minutes"] * 60.0
        done = self.counters.images_seen if by_images else self.counters.wall_seconds
        progress.add_task("train", total=total, completed=done, img_per_sec=0.0, loss_d=math.nan, loss_g=math.nan)
        return progress


class BudgetColumn(ProgressColumn):
    """'done/budget kimg' (or seconds for a wall-clock-only run)."""

    def __init__(self, by_images: bool):
        """Choose the unit."""
        super().__init__()
        self.by_images = by_images

    def render(self, task) -> Text:
        """The text for one refresh."""
        if self.by_images:
            return Text(f"{task.completed / 1000:.3f}/{task.total / 1000:g} kimg")
        return Text(f"{task.completed:.0f}/{task.total:.0f} s")
