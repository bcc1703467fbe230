"""A built report's results as rich tables for the terminal (the same cells as its Markdown)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bench.report.columns import COLUMNS
from bench.report.markdown import budget_label, cell_text, column_header
from bench.report.regression import Change


def report_tables(report) -> list[Table]:
    """The report's results as rich tables (same cells as the Markdown): quality and speed, then cost."""
    info = report.info
    train = info["training"]
    groups = [
        [k for k in report.keys if COLUMNS[k].source != "profile"],
        [k for k in report.keys if COLUMNS[k].source == "profile"],
    ]
    captions = ["final at budget, EMA generator; mean ± std over training seeds", "cost per model (ladabench profile)"]
    tables = []
    for keys, caption in zip(groups, captions, strict=True):
        if not keys:
            continue
        table = Table(
            title=escape(f"{train['data']} · {budget_label(train)} · batch {train['batch_size']} · {train['device']}"),
            caption=caption,
        )
        for header in ("model", "preset", "seeds", *(column_header(k, info["hours_label"]) for k in keys)):
            left = header in ("model", "preset", "seeds")
            table.add_column(header, justify="left" if left else "right", no_wrap=left)
        for _, row in report.table.iterrows():
            table.add_row(str(row["model"]), str(row["preset"]), str(row["seeds"]), *(cell_text(row, k) for k in keys))
        tables.append(table)
    return tables


def changes_table(changes: list[Change], source: str) -> Table:
    """The regression check against an older report: old, new, change, margin and verdict per model/metric."""
    table = Table(
        title=f"against {escape(source)}", caption="worse/better: the change exceeds the combined 95% interval"
    )
    for header in ("model", "metric", "old", "new", "change", "margin", "verdict"):
        table.add_column(header, justify="left" if header in ("model", "metric", "verdict") else "right")
    for c in changes:
        verdict = {"worse": "[bold red]worse[/]", "better": "[green]better[/]"}.get(c.verdict, c.verdict)
        table.add_row(
            f"{c.model}/{c.preset}",
            c.metric,
            f"{c.old:.4g}",
            f"{c.new:.4g}",
            f"{c.new - c.old:+.3g}",
            f"{c.margin:.3g}",
            verdict,
        )
    return table
