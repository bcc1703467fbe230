"""`ladabench bench quick|ablations|status`: a model grid at one equal budget, run locally or on SLURM, reported.

The grids' protocols are named values in `bench.grid.protocol`; the grid layer (`bench.grid`) plans the
cells and runs them on an executor; this module builds the plan from the options, prints, and writes
the report from the run folders.
"""

from __future__ import annotations

import dataclasses
import inspect
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bench.commands.common import parse_int_list
from bench.core.console import console
from bench.core.errors import UserError
from bench.core.interrupt import Interrupted, interrupt_with
from bench.core.options import (
    AMP,
    BATCH,
    DATA,
    DEVICE,
    FEATURES,
    NUM_GEN,
    PRESET,
    REPORT_OUT,
    SAMPLE_SEEDS,
    SPREAD_FROM,
    THREADS,
    Flag,
)
from bench.data import DEFAULT_DATASET
from bench.grid.protocol import (  # noqa: F401 - grid_lr, parse_grid_ema: the grid options' parsers, tested here
    GRID_METRICS,
    PROTOCOLS,
    QUICK,
    GridProtocol,
    grid_lr,
    grid_notes,
    grid_recipe,
    grid_spread_source,
    parse_grid_ema,
)
from bench.train.options import TrainOptions
from bench.train.trackers import parse_trackers

bench_app = typer.Typer(
    help="Benchmark grids: every model trained at one equal kimg budget, evaluated and reported.",
    no_args_is_help=True,
)


class GridFailed(UserError):
    """Some cells of a grid failed (the table above names them); the others finished."""

    exit_code = 1
    label = None


def _scale_up_hint(name: str) -> None:
    """How to run the same grid as a real benchmark on a GPU or a cluster."""
    console.print(
        f"[bold]Scale up on a GPU:[/] `ladabench bench {name} --device cuda --preset default --data cifar10 "
        "--kimg 2000 --seeds 0,1,2 --num-gen 10000 --sample-seeds 0,1,2` (paper-size presets; time one model "
        "first, e.g. `ladabench train ladagan --data cifar10 --kimg 50`, and multiply by the budget); on a SLURM "
        "cluster add `--executor slurm` (docs/cluster.md)."
    )


def _train_flag(field_name: str) -> Flag:
    """The flag of a `TrainOptions` field (the grid passes the value on to every cell's training)."""
    return next(f.metadata["flag"] for f in dataclasses.fields(TrainOptions) if f.name == field_name)


# The grid commands' own options; the ones they share with other commands are borrowed below.
MODELS = Flag("--models", "The grid's models to run (comma-separated subset).")
SEEDS = Flag("--seeds", "Training seeds, e.g. 0,1,2 (mean ± std over them).")
PROFILE = Flag("--profile/--no-profile", "Profile cost and speed of each model for the report.", bool)
EMA = Flag("--ema", "G_ema schedule: HALFLIFE_KIMG,RAMPUP, or 'reference' (the preset's per-step decay).")
TRACKER = Flag(
    "--tracker",
    "Mirror every run's stats, metrics and sample grids to tensorboard and/or wandb (comma-separated; default: none).",
)
EXECUTOR = Flag("--executor", "Where cells run: local (worker processes), slurm (one job array), debug (this process).")
WORKERS = Flag("--workers", "local: cells side by side (default: one per GPU on CUDA, one per CPU core on CPU).", int)
PARTITION = Flag("--partition", "slurm: the partition (default: the cluster's).")
TIME_MIN = Flag("--time-min", "slurm: time limit per cell in minutes.", int)
GPUS_PER_TASK = Flag("--gpus-per-task", "slurm: GPUs per cell.", int)
CPUS_PER_TASK = Flag("--cpus-per-task", "slurm: CPU cores per cell.", int)
MEM_GB = Flag("--mem-gb", "slurm: memory per cell in GB.", float)
ARRAY_PARALLELISM = Flag("--array-parallelism", "slurm: most cells running at once.", int)
SBATCH = Flag("--sbatch", "slurm: an extra sbatch flag KEY=VALUE (repeatable), e.g. qos=high.", list[str])
WAIT = Flag("--wait/--no-wait", "slurm: follow the jobs and write the report when all end.", bool)
REPORT_ONLY = Flag("--report-only", "Write the report from the runs folder only (no cell runs).", bool)


def _options(grid: GridProtocol) -> dict[str, tuple[Flag, Any]]:
    """The options every grid command takes (name -> (flag, default)), with the grid's defaults in help and value."""
    return {
        "models": (MODELS, ",".join(grid.models)),
        "kimg": (_train_flag("total_kimg").but(help="Budget per run in kimg, equal for every model."), grid.total_kimg),
        "budget_tflops": (
            _train_flag("budget_tflops").but(
                help="Instead of --kimg: equal training compute per run in TFLOPs (each model's counted FLOPs/image)."
            ),
            None,
        ),
        "snapshot_kimg": (
            _train_flag("snapshot_kimg").but(
                help="Snapshot interval; every snapshot is evaluated (the learning curves' points)."
            ),
            grid.snapshot_kimg,
        ),
        "data": (DATA.but(help="Dataset (default: the embedded fashion10k)."), None),
        "seeds": (SEEDS, "0"),
        "num_gen": (NUM_GEN, grid.num_gen),
        "sample_seeds": (SAMPLE_SEEDS.but(help="Sample seeds for FID (mean over them per run)."), "0"),
        "out": (REPORT_OUT.but(help="Report path; plots, CSV, profile JSON beside it."), Path(grid.report)),
        "preset": (PRESET.but(help="Preset of every model: 'tiny' (CPU) or 'default'."), "tiny"),
        "device": (DEVICE, None),
        "batch": (BATCH.but(help=f"Batch size of every run (default: {grid.batch_tiny} with tiny presets)."), None),
        "amp": (AMP.but(help=f"Mixed precision of every run: off, bf16 or fp16 (default: {grid.amp})."), None),
        "features": (FEATURES, "inception"),
        "tracker": (TRACKER, None),
        "profile": (PROFILE, True),
        "runs_dir": (
            Flag("--runs-dir", f"Folder of the grid's runs (default {grid.runs_folder}); reused.", Path),
            None,
        ),
        "lr": (
            Flag(
                "--lr", f"Adam rate of G and D (default: {grid.lr_tiny:g} with tiny presets; 'preset': each preset's)."
            ),
            None,
        ),
        "spread_from": (
            SPREAD_FROM.but(
                help="A multi-seed report's .csv of the same protocol that judges a single-seed grid's gaps "
                f"(default: {grid.spread_default or 'none'} when it exists; 'none': do not borrow).",
                cli_type=str,
            ),
            None,
        ),
        "ema": (EMA, grid.ema_text),
        "executor": (EXECUTOR, "local"),
        "workers": (WORKERS, None),
        "threads": (THREADS.but(help="Torch threads per cell (default on CPU: cores / workers).", check=None), None),
        "partition": (PARTITION, None),
        "time_min": (TIME_MIN, 24 * 60),
        "gpus_per_task": (GPUS_PER_TASK, None),
        "cpus_per_task": (CPUS_PER_TASK, None),
        "mem_gb": (MEM_GB, None),
        "array_parallelism": (ARRAY_PARALLELISM, None),
        "sbatch": (SBATCH, None),
        "wait": (WAIT, False),
        "report_only": (REPORT_ONLY, False),
    }


def _executor_options(given: dict[str, Any]) -> Any:
    """The executor options from the command's values."""
    from bench.grid.executors import ExecutorOptions  # start-up: submitit and torch only when a grid runs

    return ExecutorOptions(
        kind=given["executor"],
        workers=given["workers"],
        threads=given["threads"],
        partition=given["partition"],
        time_min=given["time_min"],
        gpus_per_task=given["gpus_per_task"],
        cpus_per_task=given["cpus_per_task"],
        mem_gb=given["mem_gb"],
        array_parallelism=given["array_parallelism"],
        sbatch=tuple(given["sbatch"] or ()),
        wait=given["wait"],
    )


def option_defaults(grid: GridProtocol) -> dict[str, Any]:
    """The grid command's option values when none is given (tests build plans from them)."""
    return {name: default for name, (_, default) in _options(grid).items()}


def grid_plan(grid: GridProtocol, given: dict[str, Any], device: str) -> Any:
    """The grid plan from the command's option values."""
    from bench.grid.plan import GridPlan  # start-up: torch only when a grid runs

    overrides = grid_recipe(given, grid)
    if given.get("tracker"):  # a session field: reusing a finished cell ignores it
        overrides["trackers"] = parse_trackers(given["tracker"].split(","))
    batch = given["batch"] if given["batch"] is not None or given["preset"] != "tiny" else grid.batch_tiny
    return GridPlan(
        name=grid.name,
        models=[m.strip() for m in given["models"].split(",") if m.strip()],
        data=given["data"] or DEFAULT_DATASET,
        total_kimg=None if given["budget_tflops"] is not None else given["kimg"],
        budget_tflops=given["budget_tflops"],
        snapshot_kimg=given["snapshot_kimg"],
        seeds=parse_int_list(given["seeds"], "--seeds", minimum=0),
        num_gen=given["num_gen"],
        report=given["out"],
        preset=given["preset"],
        sample_seeds=parse_int_list(given["sample_seeds"], "--sample-seeds"),
        metrics=list(grid.metrics),
        features=given["features"],
        device=device,
        batch=batch,
        profile=given["profile"],
        title=grid.title,
        runs_root=given["runs_dir"] or Path(grid.runs_folder),
        train_overrides=overrides,
        notes=grid_notes(overrides),
        spread_from=grid_spread_source(grid, given["spread_from"], given["out"]),
        command="ladabench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "bench" in sys.argv[1:3] else "",
    )


def cells_table(statuses: list[Any], title: str) -> Table:
    """The table of cells: state, kimg, speed, ETA, job, and the run or the first error line with the log."""
    from bench.grid.status import status_rows  # start-up: the grid layer imports torch

    rows = status_rows(statuses)
    table = Table(title=title)
    for column in rows[0] if rows else ("cell", "state"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = {"failed": "red", "evaluated": "green"}.get(row["state"])
        table.add_row(*(escape(v) for v in row.values()), style=style)
    return table


def write_grid_report(plan: Any, statuses: list[Any], dataset: Any) -> Any:
    """Profile the models and write the report from the cells' run folders; return the built report."""
    # start-up: pandas, torch and the metrics are imported only when a report is written
    from bench.commands.costs import count_missing_costs
    from bench.grid.plan import budget_note, cell_options
    from bench.grid.run import profile_models
    from bench.report.build import build_report
    from bench.report.columns import parse_metric_list
    from bench.train.budget import budget_images
    from bench.train.ema import EmaSchedule

    run_dirs = [s.run for s in statuses]
    first = cell_options(plan, plan.models[0], plan.seeds[0], dataset)
    schedule = EmaSchedule(first.ema_decay, first.ema_halflife_kimg, first.ema_rampup, first.batch_size)
    note = budget_note(budget_images(first) / 1000, first.batch_size, schedule)
    profile_paths = profile_models(plan, dataset.resolution, console) if plan.profile else []
    compare = (
        "ladabench compare "
        + " ".join(shlex.quote(_as_typed(p)) for p in run_dirs)
        + f" --metric {GRID_METRICS}"
        + "".join(f" --profile {shlex.quote(str(p))}" for p in profile_paths)
        + (f" --spread-from {shlex.quote(str(plan.spread_from))}" if plan.spread_from else "")
        + f" --out {shlex.quote(str(plan.report))}"
    )
    commands = [plan.command, "# or, from the same runs and profile files:", compare] if plan.command else [compare]
    keys = parse_metric_list(GRID_METRICS)
    counts_path = plan.report.with_name(f"{plan.report.stem}-counts.json")
    profile_paths = count_missing_costs(run_dirs, profile_paths, keys, counts_path)
    return build_report(
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


def _as_typed(path: Path) -> str:
    """A path as a user would type it here: relative to the working folder when inside it (commands in reports)."""
    path = Path(path)
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _budget_words(plan: Any) -> str:
    """The grid's budget per run in words: '16 kimg' or '5 training TFLOPs'."""
    return f"{plan.budget_tflops:g} training TFLOPs" if plan.budget_tflops is not None else f"{plan.total_kimg:g} kimg"


def _continue_line(name: str, command: str) -> str:
    """What a stopped grid prints: how to continue it (the same command: done work is reused)."""
    again = f"rerun `{command}`" if command else f"rerun `ladabench bench {name}` with the same options"
    return (
        f"interrupted; to continue, {again}: finished runs and evaluations are reused and an unfinished run "
        "resumes from its last snapshot (nothing partial was written)"
    )


def _report_command(plan: Any) -> str:
    """The command that writes the report once the cells are evaluated."""
    if plan.command:
        return plan.command + " --report-only"
    return f"ladabench bench {plan.name} --runs-dir {shlex.quote(str(plan.runs_dir))} --report-only"


def _run(grid: GridProtocol, given: dict[str, Any]) -> None:
    """Build the plan, run or submit its cells, print the table of cells, write the report when all are done."""
    from bench.grid.executors import check_executor  # start-up: torch, submitit and metrics only when a grid runs
    from bench.grid.run import run_cells
    from bench.report.tables import report_tables
    from bench.train.resolve import default_device

    device = given["device"] or default_device()
    executor = _executor_options(given)
    plan = grid_plan(grid, given, device)
    report_command = _report_command(plan)
    if given["report_only"]:
        executor = type(executor)(kind="debug")
    check_executor(executor)  # bad executor input is one line, before the grid's header or any work
    console.print(  # the values are the user's words, printed as typed (a device 'x[/y]' is not markup)
        f"[bold]{grid.name}[/]: "
        + escape(
            f"{len(plan.models)} models x seeds {plan.seeds} on {plan.data}, "
            f"{_budget_words(plan)} each, preset {plan.preset}, {device}; FID/KID with {plan.num_gen} generated "
            f"images per sample seed {plan.sample_seeds}; executor {executor.kind}"
        )
    )
    stopped = _continue_line(grid.name, plan.command)
    with interrupt_with(stopped):
        try:
            if given["report_only"]:
                outcome = _report_only(plan)
            else:
                outcome = run_cells(plan, executor, console, report_command)
        except Interrupted:  # cells stopped on the signal after writing their snapshots
            raise Interrupted(stopped) from None
    if outcome.submitted_only:
        jobs = sorted({j.split("_")[0] for j in outcome.job_ids.values()})
        console.print(f"submitted SLURM job array {', '.join(jobs)}: {len(outcome.job_ids)} cells")
        console.print(f"runs folder: {escape(str(plan.runs_dir))}")
        console.print(f"follow it:  ladabench bench status {escape(str(plan.runs_dir))}")
        console.print(f"report:     {escape(report_command)}  (when every cell is evaluated)")
        return
    console.print(cells_table(outcome.statuses, f"{grid.name}: cells"))
    if outcome.failed:
        raise GridFailed(
            f"{len(outcome.failed)} of {len(outcome.statuses)} cells failed (table above: first error line and log); "
            "fix the cause and rerun the same command: only failed and pending cells run"
        )
    if not outcome.complete:
        raise GridFailed(
            f"{sum(s.state != 'evaluated' for s in outcome.statuses)} cells are not evaluated yet; "
            f"see `ladabench bench status {plan.runs_dir}`, then rerun `{report_command}`"
        )
    report = write_grid_report(plan, outcome.statuses, outcome.dataset)
    for table in report_tables(report):
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"wrote {escape(str(report.markdown_path))} with {len(report.plot_paths)} plots")
    if not device.startswith("cuda"):
        _scale_up_hint(grid.name)


def _report_only(plan: Any) -> Any:
    """The grid's cells as they stand in the runs folder (nothing runs)."""
    from bench.grid.plan import check_plan, plan_cells  # start-up: torch only when a grid runs
    from bench.grid.run import GridOutcome
    from bench.grid.status import cell_status

    dataset = check_plan(plan)
    return GridOutcome([cell_status(c) for c in plan_cells(plan, dataset)], dataset)


def _command(grid: GridProtocol) -> Callable[..., None]:
    """The Typer command of a grid (its signature generated from `_options`)."""

    options = _options(grid)

    def command(**given: Any) -> None:
        """Check each value against its flag, then run the grid with the options given."""
        for name, value in given.items():
            options[name][0].checked(value)
        _run(grid, given)

    command.__doc__ = grid.doc
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # Typer reads the options here
        [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=flag.param(default), annotation=flag.cli_type
            )
            for name, (flag, default) in options.items()
        ]
    )
    return command


for _grid in PROTOCOLS.values():
    bench_app.command(_grid.name)(_command(_grid))


@bench_app.command("status")
def status_command(
    runs_dir: Path = typer.Argument(
        Path(QUICK.runs_folder), help=f"A grid's runs folder (default {QUICK.runs_folder})."
    ),
) -> None:
    """Each cell of the grids in RUNS_DIR: state, kimg, img/s, ETA, and its SLURM job and state (read-only)."""
    from bench.grid.status import grid_statuses, read_manifests  # start-up: the grid layer imports torch

    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir} is not a folder; pass a grid's --runs-dir (default {QUICK.runs_folder})")
    for manifest in read_manifests(runs_dir):
        statuses = grid_statuses(manifest)
        counts = {state: sum(s.state == state for s in statuses) for state in dict.fromkeys(s.state for s in statuses)}
        summary = ", ".join(f"{n} {state}" for state, n in counts.items())
        title = f"{manifest['grid']} ({manifest.get('executor', '?')}): {summary}"
        console.print(cells_table(statuses, title))


def register(app: typer.Typer) -> None:
    """Attach the `bench` group to the app."""
    app.add_typer(bench_app, name="bench")
