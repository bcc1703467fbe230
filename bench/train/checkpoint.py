"""What a snapshot holds and how a session continues from one: every weight, optimizer, RNG and counter.

`Checkpointing` is a part of `Trainer` (a mixin): it reads and sets the trainer's models, optimizers,
generators, sampler and counters, so that a resumed run continues bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.train import distributed
from bench.train.ema import ema_state_dict, load_ema_state_dict
from bench.train.sampler import EpochSampler
from bench.train.samples import render_grid, save_grid
from bench.train.seeds import GENERATOR_STREAMS, derived_seed, rank_seed
from bench.train.snapshots import prune
from bench.train.state import capture_rng, restore_rng, save_snapshot, snapshot_checksum


@dataclass
class Counters:
    """Counters that a snapshot stores and a resume restores."""

    images_seen: int = 0
    step: int = 0
    tick: int = 0
    wall_seconds: float = 0.0
    last_snapshot: Path | None = None


class Checkpointing:
    """Snapshot writing and restoring for `Trainer` (see its attributes)."""

    def snapshot_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit."""
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
                {name: gen.get_state() for name, gen in self.generators.items()}, self.dist
            ),
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
            self.dataset.count,
            self.options.batch_size,
            derived_seed(self.options.seed, 0),
            epoch=data["epoch"],
            cursor=data["cursor"],
        )
        self.counters = Counters(
            images_seen=int(snap["images_seen"]),
            step=int(snap["step"]),
            tick=int(snap["tick"]),
            wall_seconds=float(snap["wall_seconds"]),
            last_snapshot=snapshot_path,
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
                    rank_seed(self.options.seed, stream, self.dist.rank, int(snap["images_seen"]))
                )

    def write_snapshot(self) -> Path:
        """Save a snapshot and the matching sample grid (rank 0), then keep only the newest --keep-snapshots."""
        path = self.rundir.snapshot_path(self.counters.images_seen)
        snap = self.snapshot_dict()  # a collective under torchrun: every rank takes part
        self.counters.last_snapshot = path
        self._check_ranks_agree()
        if not self.dist.is_writer:
            return path
        save_snapshot(path, snap)
        save_grid(
            self.rundir.samples_path(self.counters.images_seen),
            render_grid(self.ema.module, self.grid_latents, self.device),
        )
        self.log(f"snapshot {path.name} at {self.counters.images_seen} images")
        for old in prune(self.rundir, self.keep_snapshots, newest=path):
            self.log(f"removed {old.name} (--keep-snapshots {self.keep_snapshots})")
        return path

    def _check_ranks_agree(self) -> None:
        """Under torchrun, verify every rank holds the same G, D and G_ema parameters (DDP keeps them in sync).

        Buffers are left out: BatchNorm running statistics are per rank by design.
        """
        if not self.dist.enabled:
            return
        params = {
            name: dict(m.named_parameters())
            for name, m in (("G", self.G_plain), ("D", self.D), ("G_ema", self.ema.module))
        }
        digests = distributed.gather_objects(snapshot_checksum(params), self.dist)
        if len(set(digests)) != 1:
            raise RuntimeError(f"weights differ across ranks at {self.counters.images_seen} images: {digests}")
        self.log(f"weights identical on all {self.dist.world_size} ranks at {self.counters.images_seen} images")
