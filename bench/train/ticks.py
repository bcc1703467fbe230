"""The end of a tick: rank-averaged loss statistics, the divergence check, and the stats.jsonl line.

`TickStats` is a part of `Trainer` (a mixin); it reads the trainer's counters, device and scaler.
"""

from __future__ import annotations

import math
import resource
from typing import Any

import torch

from bench.core.errors import UserError
from bench.train import distributed

LOSS_KEYS = ("loss_d", "loss_g")
STAT_KEYS = ("loss_d", "loss_g", "r1", "cr", "grad_norm_d", "grad_norm_g")
SKIP_KEYS = ("amp_skipped_d", "amp_skipped_g")
MIN_LOSS_SCALE = 2.0**-24  # an fp16 scale this small means the gradients overflow at any scale


def display_number(value: float | None) -> float:
    """A stats value for display (None, a tick whose steps were all skipped, shows as nan)."""
    return math.nan if value is None else value


class TrainingDiverged(UserError):
    """A loss became NaN or Inf; the run stopped without writing the broken weights."""


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory: CUDA bytes allocated since the last reset on GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


class TickStats:
    """Tick statistics for `Trainer`."""

    def _end_tick(
        self, per_step: list[dict[str, Any]], start_images: int, start_step: int, train_seconds: float
    ) -> dict:
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
            f"loss_d {display_number(record['loss_d']):.4f}  loss_g {display_number(record['loss_g']):.4f}  "
            f"r1 {display_number(record['r1']):.3g}  cr {display_number(record['cr']):.3g}  amp skipped {record['amp_skipped_steps']}",
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
