"""`ladabench bench quick|ablations`: train a model grid at one equal budget, evaluate, profile, write the report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.markup import escape

from bench.commands.common import parse_int_list
from bench.core.console import console
from bench.core.errors import UserError
from bench.data import DEFAULT_DATASET

bench_app = typer.Typer(
    help="Benchmark grids: every model trained at one equal kimg budget, evaluated and reported.",
    no_args_is_help=True,
)

QUICK_MODELS = ("ladagan", "conv", "transgan", "ladagan-dot")
ABLATION_MODELS = ("ladagan", "ladagan-dot", "ladagan-nosln", "ladagan-mlpres", "ladagan-nor1", "ladagan-convd", "conv", "transgan")
# Defaults sized by measurement on an idle 2-core CPU (README "Quick benchmark"): 1 kimg trains in 13-64 s per
# tiny model (ladagan 13, conv 18, transgan 27, ladagan-dot 64) and FID/KID at N=500 costs about 75 s per run
# (plus about 75 s once for the reference features): quick ~15 min, ablations ~45 min.
QUICK_KIMG, QUICK_NUM_GEN = 20.0, 250
ABLATION_KIMG, ABLATION_NUM_GEN = 20.0, 250
# The small-budget EMA protocol (StyleGAN2-ADA's ema_kimg 10 with ema_rampup 0.05): the reference's fixed
# 0.999 per step leaves G_ema mostly at its initial weights for a few hundred steps (README "Quick benchmark").
GRID_EMA_HALFLIFE_KIMG, GRID_EMA_RAMPUP = 10.0, 0.05
FEATURES_HELP = "Feature network: 'inception' (real FID/KID); 'random-conv' only for fast tests (marked not comparable)."


def _scale_up_hint(name: str, console) -> None:
    """How to run the same grid as a real benchmark on a GPU."""
    console.print(
        f"[bold]Scale up on a GPU:[/] `ladabench bench {name} --device cuda --preset default --data cifar10 "
        "--kimg 2000 --seeds 0,1,2 --num-gen 10000 --sample-seeds 0,1,2` (paper-size presets; time one model "
        "first, e.g. `ladabench train ladagan --data cifar10 --kimg 50`, and multiply by the budget)."
    )


def _run(name: str, models: tuple[str, ...], kimg: float, data: str | None, seeds: str, num_gen: int, sample_seeds: str,
         out: Path, preset: str, device: str | None, batch: int | None, features: str, profile: bool, title: str,
         runs_dir: Path | None, ema: str) -> None:
    """Build the plan from the options, run the grid, print the table and where the report went."""
    # start-up: torch, pandas and the metrics are imported only when running a grid (see bench.commands.common)
    from bench.commands.grid import GridPlan, run_grid
    from bench.report.tables import report_tables
    from bench.train.resolve import default_device

    device = device or default_device()
    plan = GridPlan(
        name=name, models=list(models), data=data or DEFAULT_DATASET, total_kimg=kimg,
        seeds=parse_int_list(seeds, "--seeds"), num_gen=num_gen, report=out, preset=preset,
        sample_seeds=parse_int_list(sample_seeds, "--sample-seeds"), features=features, device=device,
        batch=batch, profile=profile, title=title, runs_root=runs_dir, train_overrides=parse_grid_ema(ema),
        command="ladabench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if "bench" in sys.argv[1:3] else "",
    )
    console.print(
        f"[bold]{name}[/]: {len(plan.models)} models x seeds {plan.seeds} on {plan.data}, {kimg:g} kimg each, "
        f"preset {preset}, {device}; FID/KID with {num_gen} generated images per sample seed {plan.sample_seeds}"
    )
    report = run_grid(plan, console)
    for table in report_tables(report):
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"wrote {escape(str(report.markdown_path))} with {len(report.plot_paths)} plots")
    if not device.startswith("cuda"):
        _scale_up_hint(name, console)


def _options(default_kimg: float, default_num_gen: int, default_out: str):
    """The option set both grids share, with per-grid defaults."""
    return dict(
        kimg=typer.Option(default_kimg, "--kimg", help="Budget per run in kimg (real images shown to D), equal for every model."),
        data=typer.Option(None, "--data", help="Dataset (default: the embedded fashion10k)."),
        seeds=typer.Option("0", "--seeds", help="Training seeds, e.g. 0,1,2 (mean ± std over them)."),
        num_gen=typer.Option(default_num_gen, "--num-gen", help="Generated images per sample seed for FID/KID (the metric name states it)."),
        sample_seeds=typer.Option("0", "--sample-seeds", help="Sample seeds for FID (mean over them per run)."),
        out=typer.Option(Path(default_out), "--out", help="Report path; plots, CSV and profile JSON go beside it."),
        preset=typer.Option("tiny", "--preset", help="Preset for every model: 'tiny' (CPU) or 'default' (paper size)."),
        device=typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
        batch=typer.Option(None, "--batch", help="Batch size for every model (default: the presets', equal for tiny)."),
        features=typer.Option("inception", "--features", help=FEATURES_HELP),
        profile=typer.Option(True, "--profile/--no-profile", help="Profile cost and speed of each model for the report."),
        runs_dir=typer.Option(None, "--runs-dir", help="Folder for the grid's runs (default runs/<grid>); finished runs there are reused."),
        ema=typer.Option(f"{GRID_EMA_HALFLIFE_KIMG:g},{GRID_EMA_RAMPUP:g}", "--ema", help="G_ema schedule of every run: HALFLIFE_KIMG,RAMPUP (default: StyleGAN2-ADA's 10 kimg with ramp-up 0.05, for small budgets) or 'reference' (the preset's per-step decay, 0.999)."),
    )


def parse_grid_ema(text: str) -> dict[str, float | None]:
    """'10,0.05' -> the TrainOptions half-life fields; 'reference' -> none (the preset's per-step decay)."""
    if text.strip().lower() == "reference":
        return {}
    parts = [p.strip() for p in text.split(",")]
    try:
        halflife, rampup = float(parts[0]), (float(parts[1]) if len(parts) > 1 and parts[1] else None)
    except (ValueError, IndexError):
        raise UserError(f"--ema '{text}' is not understood; write HALFLIFE_KIMG,RAMPUP (e.g. 10,0.05) or 'reference'") from None
    if len(parts) > 2:
        raise UserError(f"--ema '{text}' has {len(parts)} parts; write HALFLIFE_KIMG,RAMPUP (e.g. 10,0.05) or 'reference'")
    return {"ema_halflife_kimg": halflife, "ema_rampup": rampup}


_Q = _options(QUICK_KIMG, QUICK_NUM_GEN, "reports/quick.md")
_A = _options(ABLATION_KIMG, ABLATION_NUM_GEN, "reports/ablations.md")


@bench_app.command("quick")
def quick(
    kimg: float = _Q["kimg"], data: str = _Q["data"], seeds: str = _Q["seeds"], num_gen: int = _Q["num_gen"],
    sample_seeds: str = _Q["sample_seeds"], out: Path = _Q["out"], preset: str = _Q["preset"], device: str = _Q["device"],
    batch: int = _Q["batch"], features: str = _Q["features"], profile: bool = _Q["profile"], runs_dir: Path = _Q["runs_dir"],
    ema: str = _Q["ema"],
) -> None:
    """LadaGAN vs conv GAN vs TransGAN-style vs dot-product LadaGAN at tiny presets: reports/quick.md (about 30 min on an idle 2-core CPU)."""
    _run("quick", QUICK_MODELS, kimg, data, seeds, num_gen, sample_seeds, out, preset, device, batch, features, profile,
         "ladabench quick benchmark", runs_dir, ema)


@bench_app.command("ablations")
def ablations(
    kimg: float = _A["kimg"], data: str = _A["data"], seeds: str = _A["seeds"], num_gen: int = _A["num_gen"],
    sample_seeds: str = _A["sample_seeds"], out: Path = _A["out"], preset: str = _A["preset"], device: str = _A["device"],
    batch: int = _A["batch"], features: str = _A["features"], profile: bool = _A["profile"], runs_dir: Path = _A["runs_dir"],
    ema: str = _A["ema"],
) -> None:
    """LadaGAN, every ablation variant and both baselines at one equal budget: reports/ablations.md."""
    _run("ablations", ABLATION_MODELS, kimg, data, seeds, num_gen, sample_seeds, out, preset, device, batch, features,
         profile, "ladabench ablations", runs_dir, ema)


def register(app: typer.Typer) -> None:
    """Attach the `bench` group to the app."""
    app.add_typer(bench_app, name="bench")
