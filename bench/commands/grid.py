"""The benchmark grid shared by `ladabench bench quick` and `nox -s ablations`: train, evaluate, profile, report.

Every cell of the grid (model x training seed) is resolved and trained exactly as `ladabench train`
does it (the same resolver, the same `bench.train.train`), in this process, its console output in
`<runs>/logs/<model>-seed<S>.log`. The grid is restartable: a run that reached its budget is
reused, an unfinished one is resumed, a final snapshot already evaluated with the same metric names
is not evaluated again.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.commands.costs import count_missing_costs
from bench.core.errors import UserError
from bench.core.files import atomic_write_json
from bench.core.interrupt import Interrupted
from bench.core.paths import require_writable_file, require_writable_folder
from bench.core.progress import LoggedProgress
from bench.core.rundir import RunDir
from bench.data import load_dataset
from bench.metrics.attention_scaling import attention_scaling
from bench.metrics.evaluate import (
    INIT_SNAPSHOT,
    default_num_gen,
    evaluate_initial,
    evaluate_snapshot,
)
from bench.metrics.features import metric_suffix
from bench.metrics.names import resolve_metric_names
from bench.metrics.profile import SCHEMA, profile_model
from bench.metrics.weights import locate_inception
from bench.registry import get_model
from bench.report.build import build_report
from bench.report.columns import parse_metric_list
from bench.train.ema import EmaSchedule
from bench.train.options import TrainOptions, differences
from bench.train.resolve import resolve_options
from bench.train.session import Resume, train

GRID_METRICS = "kid,fid,macs,train-flops,params,imgs-per-sec,peak-mem,device-hours"  # KID leads: unbiased at small N
SCALING_REPEATS = 10


@dataclass
class GridPlan:
    """One benchmark grid: which models, where, at what budget, and how it is evaluated and reported."""

    name: str
    models: list[str]
    data: str
    total_kimg: float
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
    train_overrides: dict[str, Any] = field(
        default_factory=dict
    )  # TrainOptions fields every cell sets (e.g. the EMA schedule)
    spread_from: Path | None = None  # a multi-seed report's CSV whose seed spread judges a single-seed grid

    @property
    def preset_arg(self) -> str | None:
        """The preset as the registry takes it ('default' means the resolution's default: None)."""
        return None if self.preset == "default" else self.preset

    @property
    def runs_dir(self) -> Path:
        """Folder holding this grid's runs (default runs/<name>)."""
        return self.runs_root or Path("runs") / self.name


def cell_options(plan: GridPlan, model: str, seed: int, dataset: Any) -> TrainOptions:
    """The resolved options of one grid cell, exactly as `ladabench train` would resolve them."""
    request = {
        "model": model,
        "data": plan.data,
        "preset": plan.preset_arg,
        "total_kimg": plan.total_kimg,
        "seed": seed,
        "device": plan.device,
        "out": str(plan.runs_dir),
        "batch_size": plan.batch,
        "data_content_hash": dataset.content_hash,
        "data_count": dataset.count,
        **plan.train_overrides,
    }
    return resolve_options(request, dataset.resolution)


def find_cell_run(plan: GridPlan, options: TrainOptions) -> RunDir | None:
    """The newest run under the grid's folder trained with these options (session options aside), or None."""
    found = None
    for run in RunDir.children(plan.runs_dir):
        try:
            stored = run.read_options()
        except UserError:  # unreadable (being written, or damaged): not a cell to reuse
            continue
        same_device_kind = str(stored.get("device", "")).split(":")[0] == options.device.split(":")[0]
        if same_device_kind and not differences(stored, options):
            found = run
    return found


def run_training(plan: GridPlan, model: str, seed: int, dataset: Any, progress: Progress, task: Any) -> Path:
    """Train one cell to its budget (resuming an unfinished run), showing its images seen; return the run."""
    options = cell_options(plan, model, seed, dataset)
    existing = find_cell_run(plan, options)
    budget = round(plan.total_kimg * 1000)
    if existing is not None and existing.images_seen() >= budget:
        progress.update(task, total=budget, completed=budget)
        return existing.path
    resume = Resume(existing) if existing is not None and existing.snapshots() else None
    log_path = plan.runs_dir / "logs" / f"{model}-seed{seed}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        try:
            run = train(
                options,
                resume=resume,
                dataset=dataset,
                console=Console(file=log, width=120),
                on_tick=lambda stats: progress.update(task, total=budget, completed=stats["images_seen"]),
            )
        except Interrupted:  # stopped by Ctrl-C/SIGTERM after a snapshot: not a failure of the run
            raise
        except UserError as exc:
            raise UserError(f"training {model} seed {seed} failed: {exc} (log {log_path})") from exc
    if run.images_seen() < budget:
        raise UserError(f"training {model} seed {seed} ended before its budget; see {log_path}")
    progress.update(task, completed=budget)
    return run.path


def metric_names(plan: GridPlan) -> list[str]:
    """The full metric names (`fid500_train`, ...) this grid evaluates."""
    features = metric_suffix(plan.features)
    return [
        m.name
        for m in resolve_metric_names(plan.metrics, plan.num_gen, default_num_gen(plan.device), features=features)
    ]


def needs_evaluation(run_dir: Path, names: list[str], snapshot: str | None = None) -> bool:
    """True unless every metric already has a line for `snapshot` (default: the run's final one)."""
    run = RunDir(run_dir)
    wanted = snapshot or run.final_snapshot_name()
    for name in names:
        if not any(line.get("snapshot") == wanted for line in run.metric_lines(name)):
            return True
    return False


def evaluate_run(plan: GridPlan, run_dir: Path, names: list[str]) -> None:
    """FID/KID of a run's generator at initialisation and at its final snapshot (each once: reused when present)."""
    common = dict(features=plan.features, show_progress=False)
    if needs_evaluation(run_dir, names, INIT_SNAPSHOT):
        evaluate_initial(run_dir, names, plan.device, None, plan.sample_seeds, **common)
    if needs_evaluation(run_dir, names):
        evaluate_snapshot(run_dir, None, names, plan.device, None, plan.sample_seeds, **common)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> Path:
    """Write a JSON document atomically; return its path."""
    atomic_write_json(path, payload)
    return path


def profile_models(plan: GridPlan, resolution: int, progress: Progress, task: Any) -> list[Path]:
    """Profile every model of the grid (counts + speed) and one attention layer per kind; return the JSON files."""
    rows = []
    for model in plan.models:
        progress.update(task, description=f"profile {model}")
        rows.append(
            profile_model(
                model,
                plan.preset_arg,
                resolution,
                plan.batch if plan.device != "cpu" else None,
                device=plan.device,
                repeats=plan.profile_repeats,
                warmup=1,
            )
        )
        progress.advance(task)
    stem = plan.report.with_suffix("")
    paths = [write_json_atomic(stem.with_name(f"{stem.name}-profile.json"), {"schema": SCHEMA, "rows": rows})]
    if plan.scaling_tokens:
        progress.update(task, description="attention scaling")
        # One layer is cheap at these token counts: the benchmark's own repeat count keeps the median steady.
        scaling = attention_scaling(
            tuple(plan.scaling_tokens),
            dim=128,
            heads=4,
            device=plan.device,
            repeats=max(plan.profile_repeats, SCALING_REPEATS),
            warmup=2,
        )
        paths.append(
            write_json_atomic(
                stem.with_name(f"{stem.name}-attention-scaling.json"),
                {"schema": "ladabench.attention-scaling/1", "rows": scaling},
            )
        )
        progress.advance(task)
    return paths


def check_plan(plan: GridPlan) -> Any:
    """Fail before any training: unknown models, bad budget or seeds, missing data or FID weights."""
    for model in plan.models:
        get_model(model)
    if plan.total_kimg <= 0:
        raise UserError(f"--kimg {plan.total_kimg:g} must be positive")
    if not plan.seeds or not plan.sample_seeds:
        raise UserError("--seeds needs at least one training seed, e.g. --seeds 0,1")
    if plan.num_gen < 2:
        raise UserError(f"--num-gen {plan.num_gen} must be at least 2")
    if plan.report.suffix != ".md":
        raise UserError(f"--out {plan.report} must end in .md (plots and CSV go beside it)")
    require_writable_file(plan.report, "--out")
    require_writable_folder(plan.runs_dir, "--runs-dir")
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
        "meaningful; for quality, scale up or use an EMA half-life (`--ema-halflife-kimg`, see the README)."
    )


def run_grid(plan: GridPlan, console: Console):
    """Train, evaluate and profile the grid, then write the report; return the built report."""
    dataset = check_plan(plan)
    names = metric_names(plan)
    first = cell_options(plan, plan.models[0], plan.seeds[0], dataset)
    schedule = EmaSchedule(first.ema_decay, first.ema_halflife_kimg, first.ema_rampup, first.batch_size)
    note = budget_note(plan.total_kimg, first.batch_size, schedule)
    cells = [(m, s) for m in plan.models for s in plan.seeds]
    jobs = 2 * len(cells) + (len(plan.models) + (1 if plan.scaling_tokens else 0) if plan.profile else 0) + 1
    columns = (TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    run_dirs: list[Path] = []
    with LoggedProgress(*columns, console=console) as progress:
        # No ETA for the whole grid: its steps (training minutes, evaluation one, profiling seconds) differ too
        # much for a rate (it said 1:12 with 4 min left); each training run's own line carries one.
        overall = progress.add_task(f"{plan.name}: {len(cells)} runs", total=jobs, eta=False)
        current = progress.add_task("", total=1, visible=False)
        for model, seed in cells:
            progress.reset(
                current, description=f"train {model} s{seed} (img)", total=round(plan.total_kimg * 1000), visible=True
            )
            run_dirs.append(run_training(plan, model, seed, dataset, progress, current))
            progress.advance(overall)
        progress.update(current, visible=False)
        for run_dir in run_dirs:
            progress.update(overall, description=f"eval {run_dir.name.split('-', 1)[1][:22]}")
            evaluate_run(plan, run_dir, names)
            progress.advance(overall)
        profile_paths = profile_models(plan, dataset.resolution, progress, overall) if plan.profile else []
        progress.update(overall, description="report")
        compare = (
            "ladabench compare "
            + " ".join(shlex.quote(str(p)) for p in run_dirs)
            + " --metric "
            + GRID_METRICS
            + "".join(f" --profile {shlex.quote(str(p))}" for p in profile_paths)
            + (f" --spread-from {shlex.quote(str(plan.spread_from))}" if plan.spread_from else "")
            + f" --out {shlex.quote(str(plan.report))}"
        )
        commands = [plan.command, "# or, from the same runs and profile files:", compare] if plan.command else [compare]
        keys = parse_metric_list(GRID_METRICS)
        counts_path = plan.report.with_name(f"{plan.report.stem}-counts.json")
        profile_paths = count_missing_costs(run_dirs, profile_paths, keys, counts_path)
        report = build_report(
            run_dirs,
            keys,
            plan.report,
            profile_paths,
            plan.title,
            commands,
            notes=[n for n in (*plan.notes, note) if n],
            spread_from=plan.spread_from,
            spread_strict=False,
        )
        progress.advance(overall)
    return report
