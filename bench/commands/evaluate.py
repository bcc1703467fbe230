"""`ladabench eval RUN`: FID/KID of a run's snapshot, appended to its metric files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bench.commands.common import checked_device, parse_int_list
from bench.core.console import console
from bench.core.errors import UserError
from bench.core.interrupt import interrupt_with
from bench.core.options import (
    BATCH,
    DEVICE,
    DINOV2,
    FEATURES,
    INCEPTION,
    NUM_GEN,
    SAMPLE_SEEDS,
    Flag,
    check_fields,
    command_signature,
    option,
)
from bench.core.paths import RUNS_DIR
from bench.core.records import MetricLine
from bench.core.rundir import RunDir
from bench.metrics.ci import CI_GROUPS
from bench.train.trackers import mirror_metrics


def resolve_run_dir(run: str) -> Path:
    """A run directory from a path, or from a run-name prefix under ./runs (e.g. `00003`)."""
    path = Path(run).expanduser()
    if path.is_dir():
        return path
    runs = Path(RUNS_DIR)
    # Only a bare name is a prefix under ./runs; a path that does not exist is just missing.
    is_name = run and "/" not in run and "\\" not in run and not any(c in run for c in "*?[")
    matches = sorted(p for p in runs.glob(f"{run}*") if p.is_dir()) if is_name and runs.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"run '{run}' matches several runs: {', '.join(p.name for p in matches)}; give the full name")
    raise UserError(
        f"run directory '{run}' not found (neither a folder nor a run under ./{RUNS_DIR}); pass the run's path"
    )


def resolve_snapshot(run_dir: Path, snapshot: str | None) -> Path | None:
    """The snapshot a --snapshot value names (kimg number or file path); None means the latest."""
    run = RunDir(run_dir)
    if snapshot is None:
        if not run.snapshots():
            raise UserError(f"run {run_dir} has no snapshot-*.pt yet; train longer or point at another run")
        return None
    return run.snapshot_named(snapshot)


def _value_text(line: MetricLine) -> str:
    """`12.345 [11.9, 12.8] FID`; precision/recall rows show all four values (P, R, D, C)."""
    # start-up: the report layer (pandas) is imported only when printing results
    from bench.report.intervals import format_interval

    if line.components is not None:
        return " ".join(f"{name[0].upper()} {line.component(name):.3f}" for name in line.components)
    interval = format_interval(*(line.ci95 or (None, None)))
    return f"{line.value:.3f} {interval} {line.unit}".replace("  ", " ")


def _results_table(lines: list[MetricLine], title: str) -> Table:
    """Metric results (value with its 95% interval) with their protocol columns."""
    table = Table(title=escape(title), caption=escape("[lo, hi]: 95% interval, jackknife over generated samples"))
    for column in (
        "metric",
        "value [95% CI]",
        "± std",
        "per seed",
        "N gen",
        "N ref",
        "reference",
        "features",
        "comparable",
        "s",
    ):
        table.add_column(column, overflow="fold")
    for line in lines:
        std = "-" if line.std is None else f"{line.std:.3f}"
        ref = line.reference
        table.add_row(
            line.metric,
            escape(_value_text(line)),
            std,
            ", ".join(f"{v:.3f}" for v in line.values_per_seed),
            str(line.num_gen),
            str(line.num_ref),
            escape(f"{ref.data} ({ref.split}, {(ref.content_hash or '')[:10]}, cache {ref.cache})"),
            f"{line.features} {(line.weights_sha256 or '')[:10]}",
            "yes" if line.comparable else "[red]NO[/]",
            f"{line.elapsed_s:.0f}",
        )
    return table


def interval_groups(flag: str, value: int) -> str | None:
    """0 (no interval) or at least 2 jackknife groups (one group leaves nothing to leave out)."""
    if value < 0 or value == 1:
        return f"{flag} {value} cannot give an interval; pass 0 (none) or at least 2 (default {CI_GROUPS})"
    return None


def int_list(flag: str, value: str) -> str | None:
    """Comma-separated integers (`0,1,2`)."""
    try:
        parse_int_list(value, flag)
    except UserError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class EvalOptions:
    """What `ladabench eval` measures, of which snapshot, and how; each value is checked when this is built."""

    run: str = option(..., Flag("run", f"Run directory (or a run-name prefix under ./{RUNS_DIR})."))
    snapshot: str | None = option(None, Flag("--snapshot", "Snapshot kimg (e.g. 120) or file; default: the latest."))
    metrics: str = option(
        "fid,kid",
        Flag(
            "--metrics",
            "Comma list: bare kinds (fid, kid, pr = precision/recall/density/coverage) or full names "
            "(fid10k_train, kid2k_train, pr500_train).",
        ),
    )
    num_gen: int | None = option(
        None, NUM_GEN.but(help="Images generated per seed for bare kinds (default 10000 on GPU, 500 on CPU).")
    )
    sample_seeds: str = option(
        "0,1,2",
        SAMPLE_SEEDS.but(help="Sample seeds (latents of the generated images); FID is the mean ± std over them.").but(
            check=int_list
        ),
    )
    inception: str | None = option(None, INCEPTION)
    features: str = option("inception", FEATURES)
    dinov2: str | None = option(None, DINOV2)
    device: str | None = option(None, DEVICE)
    batch: int = option(50, BATCH.but(help="Batch size for generation and features (results do not depend on it)."))
    ci_groups: int = option(
        CI_GROUPS,
        Flag(
            "--ci-groups",
            "Jackknife groups of the generated samples for the 95% intervals of FID/KID (0: no interval; at most "
            "one per image is used and recorded).",
            int,
            interval_groups,
        ),
    )

    def __post_init__(self) -> None:
        """Check every value (the table's checks)."""
        check_fields(self)


def eval_command(**given: Any) -> None:
    """FID/KID/precision-recall of a run's EMA generator (clean-fid, real Inception), appended to its metric files."""
    # start-up: the metrics layer is imported only when needed (see bench.commands.common)
    from bench.metrics.evaluate import evaluate_snapshot

    o = EvalOptions(**given)
    device = checked_device(o.device)
    run_dir = resolve_run_dir(o.run)
    snapshot_path = resolve_snapshot(run_dir, o.snapshot)
    stopped = (
        f"interrupted; no partial metric line or cache file was written (each is written whole); "
        f"rerun the same command to evaluate {run_dir}"
    )
    with interrupt_with(stopped):
        lines = evaluate_snapshot(
            run_dir,
            snapshot_path,
            [m for m in o.metrics.split(",") if m.strip()],
            device,
            num_gen=o.num_gen,
            seeds=parse_int_list(o.sample_seeds, "--sample-seeds"),
            features=o.features,
            inception=o.inception,
            batch_size=o.batch,
            log=lambda msg: console.print(escape(msg)),
            ci_groups=o.ci_groups,
            dinov2=o.dinov2,
        )
    mirror_metrics(run_dir, RunDir(run_dir).read_options(), lines)  # to the run's --tracker choice, if any
    console.print(_results_table(lines, f"{run_dir.name} / {lines[0].snapshot}"))
    for line in lines:
        console.print(f"appended to {escape(str(RunDir(run_dir).metric_path(line.metric)))}")


eval_command.__signature__ = command_signature(EvalOptions)  # Typer reads the options from the table above


def register(app: typer.Typer) -> None:
    """Attach `eval` to the app."""
    app.command("eval")(eval_command)
