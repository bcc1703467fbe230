"""Regression gate: each model's metric against an older report's CSV, judged by the combined 95% interval.

A change counts when |new - old| exceeds the half-width of the 95% interval of the difference of two
independent estimates, sqrt(h_new^2 + h_old^2) (h: half-widths of the two reported intervals). Its
direction (worse/better) follows whether lower is better for that metric. Metrics without an
interval in either report (costs, speed, precision/recall) are listed as not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.core.errors import UserError
from bench.core.files import require_file
from bench.report.aggregate import GROUP_KEYS
from bench.report.columns import COLUMNS
from bench.report.intervals import format_interval


@dataclass(frozen=True)
class Change:
    """One model/metric compared with the older report."""

    model: str
    preset: str
    metric: str  # table column, e.g. "fid"
    old: float
    new: float
    old_interval: tuple[float, float]
    new_interval: tuple[float, float]
    margin: float  # half-width of the interval of the difference
    verdict: str  # "worse", "better" or "within interval"


def load_previous(path: Path) -> pd.DataFrame:
    """An older report's CSV (`ladabench compare` writes it beside the Markdown), or a UserError naming the fix."""
    path = require_file(path, "--against", "pass the .csv that an earlier `ladabench compare` wrote")
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--against {path} is not a readable CSV ({exc}); pass a report's .csv") from exc
    missing = [key for key in GROUP_KEYS if key not in table]
    if missing:
        raise UserError(
            f"--against {path} has no {', '.join(missing)} column; pass the .csv of a `ladabench compare` report"
        )
    return table


def _judge(column: str, lower_is_better: bool, old: pd.Series, new: pd.Series) -> Change | None:
    """The change of `column` between two table rows, or None when either lacks a value or an interval."""
    parts = [row.get(f"{column}_{p}") for row in (old, new) for p in ("mean", "lo", "hi")]
    if any(v is None or pd.isna(v) for v in parts):
        return None
    old_mean, old_lo, old_hi, new_mean, new_lo, new_hi = (float(v) for v in parts)
    margin = math.hypot((old_hi - old_lo) / 2, (new_hi - new_lo) / 2)
    diff = new_mean - old_mean
    verdict = "within interval"
    if abs(diff) > margin:
        verdict = "worse" if (diff > 0) == lower_is_better else "better"
    return Change(
        str(new["model"]),
        str(new["preset"]),
        column,
        old_mean,
        new_mean,
        (old_lo, old_hi),
        (new_lo, new_hi),
        margin,
        verdict,
    )


def compare_with(new_table: pd.DataFrame, old_table: pd.DataFrame, keys: list[str], source: Path) -> list[Change]:
    """Every model (in both tables) x metric (with intervals in both) judged; a UserError when nothing can be."""
    columns = [COLUMNS[k] for k in keys if COLUMNS[k].source == "metric"]
    old_rows = {tuple(r[k] for k in GROUP_KEYS): r for _, r in old_table.iterrows()}
    changes = []
    for _, row in new_table.iterrows():
        old = old_rows.get(tuple(row[k] for k in GROUP_KEYS))
        if old is None:
            continue
        changes += [c for c in (_judge(col.column, col.lower_is_better, old, row) for col in columns) if c is not None]
    if not changes:
        raise UserError(
            f"nothing to check against {source}: no model/metric has a value and a 95% interval in both reports "
            "(intervals need FID/KID evaluated by this version; re-run `ladabench compare` on the old runs)"
        )
    return changes


def regressions_markdown(changes: list[Change], source: str) -> str:
    """The regression section of a report: one row per model/metric with old, new, change and verdict."""
    lines = [
        f"## Regression check against `{source}`",
        "",
        "A change counts when it exceeds the 95% interval of the difference, sqrt(h_old² + h_new²).",
        "",
        "| model | preset | metric | old [95% CI] | new [95% CI] | change | margin | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for c in changes:
        verdict = f"**{c.verdict}**" if c.verdict == "worse" else c.verdict
        lines.append(
            f"| {c.model} | {c.preset} | {c.metric} | {c.old:.4g} {format_interval(*c.old_interval)} | "
            f"{c.new:.4g} {format_interval(*c.new_interval)} | {c.new - c.old:+.3g} | {c.margin:.3g} | {verdict} |"
        )
    return "\n".join(lines)
