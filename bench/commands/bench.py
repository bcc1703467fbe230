"""`ladabench bench quick|ablations`: train a model grid at one equal budget, evaluate, profile, write the report."""

from __future__ import annotations

import inspect
import math
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from bench.commands.common import parse_int_list
from bench.core.console import console
from bench.core.errors import UserError
from bench.core.interrupt import Interrupted, interrupt_with
from bench.data import DEFAULT_DATASET

bench_app = typer.Typer(
    help="Benchmark grids: every model trained at one equal kimg budget, evaluated and reported.",
    no_args_is_help=True,
)

QUICK_MODELS = ("ladagan", "conv", "transgan", "ladagan-dot")
ABLATION_MODELS = (
    "ladagan",
    "ladagan-dot",
    "ladagan-nosln",
    "ladagan-mlpres",
    "ladagan-nor1",
    "ladagan-convd",
    "conv",
    "transgan",
)
# Defaults sized for the quick grid to finish in 30 min on an idle 2-core CPU from an empty cache (1,666 s
# measured): at batch 16 in fp32 the tiny32 models train at about 61/69/38/36 img/s (ladagan/conv/transgan/
# ladagan-dot, the runs' own stats), i.e. about 88 s per kimg for all four; evaluation (N=250 at
# initialisation and at the budget, plus the reference) about 2,250 Inception forwards in 4 min.
QUICK_KIMG, QUICK_NUM_GEN = 16.0, 250
ABLATION_KIMG, ABLATION_NUM_GEN = QUICK_KIMG, QUICK_NUM_GEN  # the quick protocol, so the two grids share runs
# The small-budget EMA protocol (StyleGAN2-ADA's ema_kimg 10 with ema_rampup 0.05): the reference's fixed
# 0.999 per step leaves G_ema mostly at its initial weights for a few hundred steps (README "Quick benchmark").
GRID_EMA_HALFLIFE_KIMG, GRID_EMA_RAMPUP = 10.0, 0.05
# The rest of the small-budget protocol (README "Quick benchmark": chosen by measurement, each a grid option):
GRID_LR = 1e-3  # Adam rate of G and D; the presets' 2e-4 learns too little in a few hundred steps
GRID_TINY_BATCH = 16  # tiny presets only: twice the updates per kimg of the presets' 32
# Precision: fp32, the authors'. bf16 autocast is 1.1-1.8x faster on AMX but was not shown to score like fp32 at
# equal budget (3 seeds x 4 models: means moved by -21..+4 FID, seed spread halved; README "Precision"), so it
# stays an option (`--amp bf16`), recorded in each run's options and refused as a spread source for fp32 grids.
GRID_AMP = "off"
SEEDS_REPORT_CSV = "reports/fashion32-seeds.csv"  # the quick protocol at 3 training seeds (its seed spread)
FEATURES_HELP = (
    "Feature network: 'inception' (real FID/KID); 'random-conv' only for fast tests (marked not comparable)."
)


def _scale_up_hint(name: str, console) -> None:
    """How to run the same grid as a real benchmark on a GPU."""
    console.print(
        f"[bold]Scale up on a GPU:[/] `ladabench bench {name} --device cuda --preset default --data cifar10 "
        "--kimg 2000 --seeds 0,1,2 --num-gen 10000 --sample-seeds 0,1,2` (paper-size presets; time one model "
        "first, e.g. `ladabench train ladagan --data cifar10 --kimg 50`, and multiply by the budget)."
    )


@dataclass(frozen=True)
class Grid:
    """One `ladabench bench` grid: its models, default budget and report, and its command's help."""

    name: str
    models: tuple[str, ...]
    kimg: float
    num_gen: int
    out: str
    title: str
    doc: str
    spread_default: str | None = None  # a multi-seed report of the same protocol, used when it exists
    runs_default: str | None = None  # runs folder when --runs-dir is not given (default runs/<name>)


GRIDS = (
    Grid(
        "quick",
        QUICK_MODELS,
        QUICK_KIMG,
        QUICK_NUM_GEN,
        "reports/quick.md",
        "ladabench quick benchmark",
        "LadaGAN vs conv GAN vs TransGAN-style vs dot-product LadaGAN at tiny presets: reports/quick.md "
        "(27.8 min measured from an empty cache on an idle 2-core CPU).",
        SEEDS_REPORT_CSV,
    ),
    Grid(
        "ablations",
        ABLATION_MODELS,
        ABLATION_KIMG,
        ABLATION_NUM_GEN,
        "reports/ablations.md",
        "ladabench ablations",
        "LadaGAN, every ablation variant and both baselines at one equal budget: reports/ablations.md. "
        "Same protocol and runs folder as the quick grid: the models they share are trained once.",
        SEEDS_REPORT_CSV,
        "runs/quick",
    ),
)


def _options(grid: Grid) -> dict[str, tuple[type, object]]:
    """The options every grid command takes (name -> (type, Typer option)), with the grid's defaults."""
    return {
        "kimg": (
            float,
            typer.Option(
                grid.kimg, "--kimg", help="Budget per run in kimg (real images shown to D), equal for every model."
            ),
        ),
        "data": (str, typer.Option(None, "--data", help="Dataset (default: the embedded fashion10k).")),
        "seeds": (str, typer.Option("0", "--seeds", help="Training seeds, e.g. 0,1,2 (mean ± std over them).")),
        "num_gen": (
            int,
            typer.Option(
                grid.num_gen,
                "--num-gen",
                help="Generated images per sample seed for FID/KID (the metric name states it).",
            ),
        ),
        "sample_seeds": (
            str,
            typer.Option("0", "--sample-seeds", help="Sample seeds for FID (mean over them per run)."),
        ),
        "out": (
            Path,
            typer.Option(Path(grid.out), "--out", help="Report path; plots, CSV and profile JSON go beside it."),
        ),
        "preset": (
            str,
            typer.Option("tiny", "--preset", help="Preset for every model: 'tiny' (CPU) or 'default' (paper size)."),
        ),
        "device": (str, typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when available).")),
        "batch": (
            int,
            typer.Option(
                None,
                "--batch",
                help=f"Batch size for every model (default: {GRID_TINY_BATCH} with tiny presets, else the presets').",
            ),
        ),
        "amp": (
            str,
            typer.Option(
                None,
                "--amp",
                help="Mixed precision of every run: off (default, fp32 as the authors), bf16 or fp16; bf16 is faster on AMX CPUs but changes FID at equal budget (README).",
            ),
        ),
        "features": (str, typer.Option("inception", "--features", help=FEATURES_HELP)),
        "profile": (
            bool,
            typer.Option(True, "--profile/--no-profile", help="Profile cost and speed of each model for the report."),
        ),
        "runs_dir": (
            Path,
            typer.Option(
                None,
                "--runs-dir",
                help=f"Folder for the grid's runs (default {grid.runs_default or 'runs/' + grid.name}); finished runs there with the same options are reused.",
            ),
        ),
        "lr": (
            str,
            typer.Option(
                None,
                "--lr",
                help=f"Adam learning rate of G and D for every run (default: {GRID_LR:g} with tiny presets, the small-budget protocol, else each preset's own; 'preset': each preset's own, 2e-4 for the tiny ones); recorded in each run's options and stated in the report.",
            ),
        ),
        "spread_from": (
            str,
            typer.Option(
                None,
                "--spread-from",
                help=f"A multi-seed report's .csv of the same protocol whose between-seed spread judges the gaps of a single-seed grid (default: {grid.spread_default or 'none'} when it exists; 'none': do not borrow).",
            ),
        ),
        "ema": (
            str,
            typer.Option(
                f"{GRID_EMA_HALFLIFE_KIMG:g},{GRID_EMA_RAMPUP:g}",
                "--ema",
                help="G_ema schedule of every run: HALFLIFE_KIMG,RAMPUP (default: StyleGAN2-ADA's 10 kimg with ramp-up 0.05, for small budgets) or 'reference' (the preset's per-step decay, 0.999).",
            ),
        ),
    }


def parse_grid_ema(text: str) -> dict[str, float | None]:
    """'10,0.05' -> the TrainOptions half-life fields; 'reference' -> none (the preset's per-step decay)."""
    if text.strip().lower() == "reference":
        return {}
    parts = [p.strip() for p in text.split(",")]
    try:
        halflife, rampup = float(parts[0]), (float(parts[1]) if len(parts) > 1 and parts[1] else None)
    except (ValueError, IndexError):
        raise UserError(
            f"--ema '{text}' is not understood; write HALFLIFE_KIMG,RAMPUP (e.g. 10,0.05) or 'reference'"
        ) from None
    if len(parts) > 2:
        raise UserError(
            f"--ema '{text}' has {len(parts)} parts; write HALFLIFE_KIMG,RAMPUP (e.g. 10,0.05) or 'reference'"
        )
    return {"ema_halflife_kimg": halflife, "ema_rampup": rampup}


def grid_lr(text: str) -> dict[str, float]:
    """--lr as the TrainOptions fields it sets ('preset': none, the presets' own rates)."""
    if text.strip().lower() == "preset":
        return {}
    try:
        lr = float(text)
    except ValueError:
        raise UserError(
            f"--lr '{text}' is not a number; e.g. --lr 0.001, or --lr preset for each preset's own rate"
        ) from None
    if not math.isfinite(lr) or lr <= 0:
        raise UserError(f"--lr must be a positive number (got {lr:g}), e.g. --lr 0.001")
    return {"lr_g": lr, "lr_d": lr}


def grid_recipe(given: dict[str, Any]) -> dict[str, Any]:
    """The TrainOptions fields every cell of a grid sets: EMA schedule, learning rates (tiny: 1e-3), precision (fp32)."""
    amp = given["amp"] if given["amp"] is not None else GRID_AMP
    lr = (
        given["lr"]
        if given["lr"] is not None
        else (f"{GRID_LR:g}" if given.get("preset", "tiny") == "tiny" else "preset")
    )
    return {**parse_grid_ema(given["ema"]), **grid_lr(lr), "amp": amp}


def grid_notes(overrides: dict[str, Any]) -> list[str]:
    """The report's sentence on the grid's learning rate (not a protocol field, so stated here)."""
    if "lr_g" not in overrides:
        return []
    return [
        f"Every run trained with Adam learning rate {overrides['lr_g']:g} for G and D (`--lr`; the presets' own "
        "rates, 2e-4 for the tiny ones, are used with `--lr preset`)."
    ]


def grid_spread_source(grid: Grid, given: str | None, out: Path) -> Path | None:
    """The report to borrow a seed spread from: the one given, else the grid's default when it exists (never the report itself)."""
    if given is not None and given.strip().lower() == "none":
        return None
    path = Path(given) if given is not None else (Path(grid.spread_default) if grid.spread_default else None)
    if path is None or path.resolve() == Path(out).with_suffix(".csv").resolve():
        return None
    if given is None and not path.is_file():
        return None
    return path


def _continue_line(name: str, command: str) -> str:
    """What a stopped grid prints: how to continue it (the same command: done work is reused)."""
    again = f"rerun `{command}`" if command else f"rerun `ladabench bench {name}` with the same options"
    return (
        f"interrupted; to continue, {again}: finished runs and evaluations are reused and an unfinished run "
        "resumes from its last snapshot (nothing partial was written)"
    )


def _run(grid: Grid, given: dict[str, Any]) -> None:
    """Build the plan from the options, run the grid, print the table and where the report went."""
    # start-up: torch, pandas and the metrics are imported only when running a grid (see bench.commands.common)
    from bench.commands.grid import GridPlan, run_grid
    from bench.report.tables import report_tables
    from bench.train.resolve import default_device

    device = given["device"] or default_device()
    overrides = grid_recipe(given)
    batch = given["batch"] if given["batch"] is not None or given["preset"] != "tiny" else GRID_TINY_BATCH
    plan = GridPlan(
        name=grid.name,
        models=list(grid.models),
        data=given["data"] or DEFAULT_DATASET,
        total_kimg=given["kimg"],
        seeds=parse_int_list(given["seeds"], "--seeds"),
        num_gen=given["num_gen"],
        report=given["out"],
        preset=given["preset"],
        sample_seeds=parse_int_list(given["sample_seeds"], "--sample-seeds"),
        features=given["features"],
        device=device,
        batch=batch,
        profile=given["profile"],
        title=grid.title,
        runs_root=given["runs_dir"] or (Path(grid.runs_default) if grid.runs_default else None),
        train_overrides=overrides,
        notes=grid_notes(overrides),
        spread_from=grid_spread_source(grid, given["spread_from"], given["out"]),
        command="ladabench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "bench" in sys.argv[1:3] else "",
    )
    console.print(
        f"[bold]{grid.name}[/]: {len(plan.models)} models x seeds {plan.seeds} on {plan.data}, {plan.total_kimg:g} kimg "
        f"each, preset {plan.preset}, {device}; FID/KID with {plan.num_gen} generated images per sample seed "
        f"{plan.sample_seeds}"
    )
    stopped = _continue_line(grid.name, plan.command)
    with interrupt_with(stopped):
        try:
            report = run_grid(plan, console)
        except Interrupted:  # a run stopped on the signal after writing its snapshot
            raise Interrupted(stopped) from None
    for table in report_tables(report):
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"wrote {escape(str(report.markdown_path))} with {len(report.plot_paths)} plots")
    if not device.startswith("cuda"):
        _scale_up_hint(grid.name, console)


def _command(grid: Grid) -> Callable[..., None]:
    """The Typer command of a grid (its signature generated from `_options`)."""

    def command(**given: Any) -> None:
        """Run the grid with the options given."""
        _run(grid, given)

    command.__doc__ = grid.doc
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # Typer reads the options here
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
            for name, (kind, option) in _options(grid).items()
        ]
    )
    return command


for _grid in GRIDS:
    bench_app.command(_grid.name)(_command(_grid))


def register(app: typer.Typer) -> None:
    """Attach the `bench` group to the app."""
    app.add_typer(bench_app, name="bench")
