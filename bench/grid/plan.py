"""A grid plan: the cells (model x training seed) with their resolved options, and the checks before any work.

A cell is everything one job needs, as small plain values (it travels to a worker or a SLURM node as
a pickle): the resolved `TrainOptions` as JSON, the metric names, where the runs go. Two plans that
resolve a cell to the same options share its run: a finished, evaluated run is reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.paths import RUNS_DIR, require_writable_file, require_writable_folder
from bench.core.rundir import RunDir
from bench.data import load_dataset
from bench.metrics.budget import resolve_budgeted
from bench.metrics.evaluate import INIT_SNAPSHOT, default_num_gen
from bench.metrics.features import DINOV2_FEATURES, REAL_FEATURES, TEST_FEATURES, metric_suffix
from bench.metrics.names import resolve_metric_names
from bench.metrics.weights import locate_inception
from bench.registry import get_model
from bench.train.budget import budget_images, check_budget_tflops
from bench.train.ema import EmaSchedule
from bench.train.options import TrainOptions, differences

CELLS_FOLDER = "cells"  # <runs>/cells/<key>.json (state), .lock (one worker per cell)
LOGS_FOLDER = "logs"  # <runs>/logs/<key>.log (a cell's console output)


@dataclass
class GridPlan:
    """One benchmark grid: which models, where, at what budget, and how it is evaluated and reported."""

    name: str
    models: list[str]
    data: str
    total_kimg: float | None  # None with `budget_tflops`: the budget is training compute, not images
    seeds: list[int]
    num_gen: int
    report: Path
    preset: str = "tiny"
    sample_seeds: list[int] = field(default_factory=lambda: [0])
    metrics: list[str] = field(default_factory=lambda: ["kid", "fid"])  # KID first: the unbiased headline at small N
    features: str = "inception"
    device: str = "cpu"
    batch: int | None = None
    runs_root: Path | None = None
    profile: bool = True
    profile_repeats: int = 3
    scaling_tokens: tuple[int, ...] = (64, 256, 1024)
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    command: str = ""
    train_overrides: dict[str, Any] = field(default_factory=dict)  # TrainOptions fields every cell sets
    spread_from: Path | None = None  # a multi-seed report's CSV whose seed spread judges a single-seed grid
    budget_tflops: float | None = None  # equal training compute per run instead of equal kimg (--budget-tflops)
    snapshot_kimg: float | None = None  # snapshot interval whose every snapshot is evaluated (the learning curves)

    @property
    def preset_arg(self) -> str | None:
        """The preset as the registry takes it ('default' means the resolution's default: None)."""
        return None if self.preset == "default" else self.preset

    @property
    def runs_dir(self) -> Path:
        """Folder holding this grid's runs (default runs/<name>)."""
        return self.runs_root or Path(RUNS_DIR) / self.name


@dataclass(frozen=True)
class Cell:
    """One job of a grid: train (or resume) one run to its budget and evaluate it; plain values only."""

    model: str
    seed: int
    options: dict[str, Any]  # the resolved TrainOptions as JSON
    metric_names: tuple[str, ...]
    features: str
    sample_seeds: tuple[int, ...]
    runs_dir: str  # absolute: a worker may start in another folder
    every_snapshot: bool = False  # evaluate every kept snapshot (learning curves), not only the final one

    @property
    def key(self) -> str:
        """The cell's name in its runs folder: '<model>-seed<S>'."""
        return f"{self.model}-seed{self.seed}"

    @property
    def budget_images(self) -> int:
        """The run's budget in images (--kimg, or what its --budget-tflops buys)."""
        return budget_images(self.train_options())

    @property
    def log_path(self) -> Path:
        """The cell's console output."""
        return Path(self.runs_dir) / LOGS_FOLDER / f"{self.key}.log"

    @property
    def record_path(self) -> Path:
        """The cell's last known state, written by its job (running, evaluated, failed)."""
        return Path(self.runs_dir) / CELLS_FOLDER / f"{self.key}.json"

    @property
    def lock_path(self) -> Path:
        """Held by the job working on the cell: a second grid on the same folder waits instead of duplicating it."""
        return Path(self.runs_dir) / CELLS_FOLDER / f"{self.key}.lock"

    def train_options(self) -> TrainOptions:
        """The cell's options as the trainer takes them."""
        return TrainOptions.from_json(self.options, f"cell {self.key}")

    def to_json(self) -> dict[str, Any]:
        """The cell as a JSON object (the grid's manifest lists them)."""
        return {
            "model": self.model,
            "seed": self.seed,
            "options": self.options,
            "metric_names": list(self.metric_names),
            "features": self.features,
            "sample_seeds": list(self.sample_seeds),
            "runs_dir": self.runs_dir,
            "every_snapshot": self.every_snapshot,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        """A cell from its manifest entry."""
        return cls(
            data["model"],
            int(data["seed"]),
            dict(data["options"]),
            tuple(data["metric_names"]),
            data["features"],
            tuple(data["sample_seeds"]),
            data["runs_dir"],
            bool(data.get("every_snapshot", False)),
        )


def cell_options(plan: GridPlan, model: str, seed: int, dataset: Any) -> TrainOptions:
    """The resolved options of one grid cell, exactly as `ladabench train` would resolve them."""
    request = {
        "model": model,
        "data": plan.data,
        "preset": plan.preset_arg,
        "total_kimg": None if plan.budget_tflops is not None else plan.total_kimg,
        "budget_tflops": plan.budget_tflops,
        "seed": seed,
        "device": plan.device,
        "out": str(plan.runs_dir.resolve()),
        "batch_size": plan.batch,
        "data_content_hash": dataset.content_hash,
        "data_count": dataset.count,
        **plan.train_overrides,
    }
    if plan.snapshot_kimg is not None:  # every snapshot kept: each is evaluated after training (idempotent)
        request.update(snapshot_kimg=plan.snapshot_kimg, keep_snapshots=0)
    return resolve_budgeted(request, dataset.resolution)


def metric_names(plan: GridPlan) -> list[str]:
    """The full metric names (`fid500_train`, ...) this grid evaluates."""
    features = metric_suffix(plan.features)
    resolved = resolve_metric_names(plan.metrics, plan.num_gen, default_num_gen(plan.device), features=features)
    return [m.name for m in resolved]


def plan_cells(plan: GridPlan, dataset: Any) -> list[Cell]:
    """Every cell of the plan, model-major (the report's row order)."""
    names = tuple(metric_names(plan))
    return [
        Cell(
            model,
            seed,
            cell_options(plan, model, seed, dataset).to_json(),
            names,
            plan.features,
            tuple(plan.sample_seeds),
            str(plan.runs_dir.resolve()),
            plan.snapshot_kimg is not None,
        )
        for model in plan.models
        for seed in plan.seeds
    ]


def find_cell_run(runs_dir: Path, options: TrainOptions) -> RunDir | None:
    """The newest run in `runs_dir` trained with these options (session options aside), or None."""
    found = None
    for run in RunDir.children(Path(runs_dir)):
        try:
            stored = run.read_options()
        except UserError:  # unreadable (being written, or damaged): not a cell to reuse
            continue
        same_device_kind = str(stored.get("device", "")).split(":")[0] == options.device.split(":")[0]
        if same_device_kind and not differences(stored, options):
            found = run
    return found


def needs_evaluation(run_dir: Path, names: list[str] | tuple[str, ...], snapshot: str | None = None) -> bool:
    """True unless every metric already has a line for `snapshot` (default: the run's final one)."""
    run = RunDir(run_dir)
    wanted = snapshot or run.final_snapshot_name()
    return any(not any(line.snapshot == wanted for line in run.metric_lines(name)) for name in names)


def cell_evaluated(cell: Cell, run: RunDir) -> bool:
    """Whether the run has every metric at initialisation, at the end and (learning curves) at each kept snapshot."""
    names = list(cell.metric_names)
    wanted = [INIT_SNAPSHOT, None, *(p.name for p in run.snapshots() if cell.every_snapshot)]
    return not any(needs_evaluation(run.path, names, snapshot) for snapshot in wanted)


def check_plan(plan: GridPlan) -> Any:
    """Fail before any training: unknown models, bad budget or seeds, missing data or FID weights."""
    for model in plan.models:
        get_model(model)
    if plan.budget_tflops is None and plan.total_kimg <= 0:
        raise UserError(f"--kimg {plan.total_kimg:g} must be positive")
    check_budget_tflops(plan.budget_tflops, None, 1)  # the batch check follows per model, with its count
    if plan.snapshot_kimg is not None and not (math.isfinite(plan.snapshot_kimg) and plan.snapshot_kimg > 0):
        raise UserError(f"--snapshot-kimg must be a positive number of kimg (got {plan.snapshot_kimg:g})")
    if not plan.seeds or not plan.sample_seeds:
        raise UserError("--seeds needs at least one training seed, e.g. --seeds 0,1")
    if plan.num_gen < 2:
        raise UserError(f"--num-gen {plan.num_gen} must be at least 2")
    if plan.report.suffix != ".md":
        raise UserError(f"--out {plan.report} must end in .md (plots and CSV go beside it)")
    require_writable_file(plan.report, "--out")
    require_writable_folder(plan.runs_dir, "--runs-dir")
    known = (REAL_FEATURES, DINOV2_FEATURES, *TEST_FEATURES)
    if plan.features not in known:  # named now, not by each cell after the grid has started
        raise UserError(f"--features '{plan.features}' is unknown; pass one of {', '.join(known)}")
    if plan.features == "inception":
        locate_inception()
    return load_dataset(plan.data)  # prepares the cache now, with its own progress bar, before the grid's


def budget_note(kimg: float, batch: int, schedule: EmaSchedule) -> str | None:
    """A warning for the reader when G_ema at the budget still holds much of its initial weights."""
    steps = math.ceil(kimg * 1000 / batch)
    initial_share = math.prod(schedule.decay(step * batch) for step in range(steps))
    if initial_share < 0.1:
        return None
    return (
        f"**Read the FID/KID columns as a pipeline check, not a ranking:** {kimg:g} kimg is {steps} iterations "
        f"at batch {batch}; the EMA generator ({schedule.describe()}) still holds {initial_share:.0%} of its "
        "initial weights, so its FID mostly reflects the initialisation. The cost and speed columns are "
        "meaningful; for quality, scale up or use an EMA half-life (`--ema-halflife-kimg`, see docs/training.md)."
    )
