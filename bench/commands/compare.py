"""`ladabench compare`: one checked table (mean ± std over seeds) from run directories, written as a report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.markup import escape

from bench.core.console import console
from bench.core.errors import UserError
from bench.core.options import REPORT_OUT, SPREAD_FROM
from bench.core.paths import RUNS_DIR
from bench.report.columns import COLUMNS, DEFAULT_METRICS, parse_metric_list

METRIC_HELP = (
    "Comma list of columns: "
    + ", ".join(
        f"{c.key} ({c.header}{', with ' + ', '.join(c.companions) if c.companions else ''})"
        for c in COLUMNS.values()
        if not c.companion_only
    )
    + " (gpu-hours: the old name of device-hours)."
)


def compare_command(
    run_dirs: list[Path] = typer.Argument(
        None, help=f"Run directories, or folders of runs (default: every run under {RUNS_DIR}/)."
    ),
    metric: str = typer.Option(DEFAULT_METRICS, "--metric", help=METRIC_HELP),
    profile: list[Path] = typer.Option(
        None,
        "--profile",
        help="JSON from `ladabench profile --json` (cost and speed rows, or --attention-scaling rows); repeatable.",
    ),
    out: Path = REPORT_OUT.param(Path("reports/compare.md")),
    title: str = typer.Option(None, "--title", help="Report title (default: names the dataset and budget)."),
    against: Path = typer.Option(
        None,
        "--against",
        help="An older report's .csv: mark each model/metric whose change exceeds the combined 95% interval.",
    ),
    fail_on_regression: bool = typer.Option(
        False,
        "--fail-on-regression",
        help="With --against: exit 1 when any model/metric got worse beyond the interval.",
    ),
    spread_from: Path = SPREAD_FROM.param(None),
) -> None:
    """Compare runs trained under one protocol: rich table, Markdown report, CSV and seaborn plots."""
    # start-up: pandas and seaborn are imported only when comparing (see bench.commands.common)
    from bench.commands.costs import count_missing_costs
    from bench.report.build import build_report, checked_runs
    from bench.report.regression import load_previous
    from bench.report.spread_source import spread_source_files
    from bench.report.tables import report_tables

    keys = parse_metric_list(metric)
    if fail_on_regression and against is None:
        raise UserError("--fail-on-regression needs --against OLD.csv (the report to check against)")
    paths = list(run_dirs) if run_dirs else [Path(RUNS_DIR)]
    if not run_dirs and not Path(RUNS_DIR).is_dir():
        raise UserError(f"no {RUNS_DIR}/ folder here; pass run directories, or train first (`ladabench bench quick`)")
    REPORT_OUT.checked(out)
    command = "ladabench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["compare"] else None
    command = command or "ladabench compare " + " ".join(
        [
            *(shlex.quote(str(p)) for p in paths),
            "--metric",
            metric,
            *(f"--profile {shlex.quote(str(p))}" for p in profile or []),
            *([f"--spread-from {shlex.quote(str(spread_from))}"] if spread_from else []),
            "--out",
            shlex.quote(str(out)),
        ]
    )
    with console.status("gathering runs and rendering the report ..."):
        checked_runs(paths, keys, [])  # bad runs fail here, before the counts file below is written
        if against is not None:
            load_previous(against)  # so does a bad --against (the report compares with it only after counting)
        if spread_from is not None:
            spread_source_files(spread_from)  # and a --spread-from that is missing (its protocol is checked later)
        profile_paths = count_missing_costs(paths, list(profile or []), keys, out.with_name(f"{out.stem}-counts.json"))
        report = build_report(
            paths,
            keys,
            out,
            profile_paths=profile_paths,
            title=title,
            commands=[command],
            against=against,
            spread_from=spread_from,
        )
    for table in report_tables(report):
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(
        f"wrote {escape(str(report.markdown_path))}, {escape(str(report.csv_path))} and {len(report.plot_paths)} plots"
    )
    _print_changes(report.changes, against, fail_on_regression)


def _print_changes(changes, against: Path | None, fail_on_regression: bool) -> None:
    """The regression check as a rich table; exit 1 on a worsening when asked to."""
    # start-up: the report layer (pandas) is imported only when comparing
    from bench.report.tables import changes_table

    if not changes:
        return
    console.print(changes_table(changes, str(against)))
    worse = [c for c in changes if c.verdict == "worse"]
    if worse and fail_on_regression:
        listed = ", ".join(f"{c.model}/{c.metric} {c.old:.4g} -> {c.new:.4g}" for c in worse)
        console.print(f"[bold red]regression:[/] {escape(listed)} (beyond the combined 95% interval)")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach `compare` to the app."""
    app.command("compare")(compare_command)
