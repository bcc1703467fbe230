"""The benchmark grids' protocols (quick, ablations): each one complete, named value, with the small-budget recipe.

A protocol states everything a grid's cells share: models, budget, evaluation size, report, and the
training recipe every cell sets (EMA half-life, learning rate, batch of tiny presets, precision). The
figures behind these choices (speeds, FID at equal budget) live in docs/small-budget.md and the reports with their
commands; here only the decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.paths import RUNS_DIR

GRID_METRICS = "kid,fid,macs,train-flops,params,imgs-per-sec,peak-mem,device-hours"  # KID leads: unbiased at small N
SEEDS_REPORT_CSV = "reports/fashion32-seeds.csv"  # the quick protocol at 3 training seeds (its seed spread)


@dataclass(frozen=True)
class GridProtocol:
    """One named grid: its models, budget, evaluation, report and the training recipe every cell shares."""

    name: str
    models: tuple[str, ...]
    total_kimg: float
    num_gen: int
    report: str
    title: str
    doc: str
    spread_default: str | None = None  # a multi-seed report of the same protocol, used when it exists
    runs_default: str | None = None  # runs folder when --runs-dir is not given (default runs/<name>)
    # The small-budget EMA (StyleGAN2-ADA's ema_kimg 10, ramp-up 0.05): the reference's fixed 0.999 per step
    # leaves G_ema near its initial weights for a few hundred steps.
    ema_halflife_kimg: float = 10.0
    ema_rampup: float = 0.05
    lr_tiny: float = 1e-3  # Adam rate of G and D with tiny presets: 2e-4 learns too little in a few hundred steps
    batch_tiny: int = 16  # tiny presets only: twice the updates per kimg of the presets' 32
    amp: str = "off"  # fp32, the authors' precision; bf16 was not shown to score like fp32 at equal budget
    metrics: tuple[str, ...] = ("kid", "fid")  # KID first: the unbiased headline at small N
    # Learning curves: a snapshot every this many kimg, each one evaluated (None: only the final one).
    snapshot_kimg: float | None = None

    @property
    def runs_folder(self) -> str:
        """The runs folder when --runs-dir is not given."""
        return self.runs_default or f"{RUNS_DIR}/{self.name}"

    @property
    def ema_text(self) -> str:
        """The EMA schedule as --ema spells it."""
        return f"{self.ema_halflife_kimg:g},{self.ema_rampup:g}"


QUICK = GridProtocol(
    name="quick",
    models=("ladagan", "conv", "transgan", "ladagan-dot"),
    total_kimg=16.0,
    num_gen=250,
    # Five points per curve (initialisation, 4, 8, 12, 16 kimg): three extra N=250 evaluations per run.
    snapshot_kimg=4.0,
    report="reports/quick.md",
    title="ladabench quick benchmark",
    doc="LadaGAN vs conv GAN vs TransGAN-style vs dot-product LadaGAN at tiny presets on a CPU: reports/quick.md.",
    spread_default=SEEDS_REPORT_CSV,
)
ABLATIONS = GridProtocol(
    name="ablations",
    models=(
        "ladagan",
        "ladagan-dot",
        "ladagan-nosln",
        "ladagan-mlpres",
        "ladagan-nor1",
        "ladagan-convd",
        "conv",
        "transgan",
    ),
    total_kimg=QUICK.total_kimg,  # the quick protocol, so the two grids share runs
    num_gen=QUICK.num_gen,
    snapshot_kimg=QUICK.snapshot_kimg,
    report="reports/ablations.md",
    title="ladabench ablations",
    doc="LadaGAN, every ablation variant and both baselines at one equal budget: reports/ablations.md. "
    "Same protocol and runs folder as the quick grid: the models they share are trained once.",
    spread_default=SEEDS_REPORT_CSV,
    runs_default=QUICK.runs_folder,
)
BUDGET = GridProtocol(
    name="budget",
    models=("ladagan", "conv"),
    total_kimg=64.0,
    num_gen=QUICK.num_gen,
    snapshot_kimg=8.0,  # nine points per curve: initialisation and every 8 kimg to 64
    report="reports/fashion32-budget.md",
    title="ladabench budget study: LadaGAN vs the conv GAN",
    doc="The budget question: LadaGAN and the conv GAN under the quick protocol trained to 64 kimg, evaluated "
    "every 8 kimg (learning curves against kimg and training FLOPs): reports/fashion32-budget.md.",
)
PROTOCOLS = {p.name: p for p in (QUICK, ABLATIONS, BUDGET)}


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


def grid_recipe(given: dict[str, Any], protocol: GridProtocol = QUICK) -> dict[str, Any]:
    """The TrainOptions fields every cell of a grid sets: EMA schedule, learning rate (tiny presets), precision."""
    amp = given["amp"] if given["amp"] is not None else protocol.amp
    tiny = given.get("preset", "tiny") == "tiny"
    lr = given["lr"] if given["lr"] is not None else (f"{protocol.lr_tiny:g}" if tiny else "preset")
    return {**parse_grid_ema(given["ema"]), **grid_lr(lr), "amp": amp}


def grid_notes(overrides: dict[str, Any]) -> list[str]:
    """The report's sentence on the grid's learning rate (not a protocol field, so stated here)."""
    if "lr_g" not in overrides:
        return []
    return [
        f"Every run trained with Adam learning rate {overrides['lr_g']:g} for G and D (`--lr`; the presets' own "
        "rates, 2e-4 for the tiny ones, are used with `--lr preset`)."
    ]


def grid_spread_source(protocol: GridProtocol, given: str | None, out: Path) -> Path | None:
    """The report to borrow a seed spread from: the one given, else the protocol's default when it exists."""
    if given is not None and given.strip().lower() == "none":
        return None
    default = Path(protocol.spread_default) if protocol.spread_default else None
    path = Path(given) if given is not None else default
    if path is None or path.resolve() == Path(out).with_suffix(".csv").resolve():
        return None  # never the report itself
    if given is None and not path.is_file():
        return None
    if given is not None:
        # start-up: the report layer (pandas) only when a spread source is given
        from bench.report.spread_source import spread_source_files

        spread_source_files(path)  # a missing --spread-from is refused now, not noted after the grid has trained
    return path
