"""Render a comparison as Markdown: protocol header, results table, plot links, regenerate commands."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from bench.report.columns import COLUMNS
from bench.report.intervals import COMBINED_CI_METHOD, format_interval, parse_cell
from bench.train.ema import EmaSchedule


def format_mean_std(mean: float, std: float) -> str:
    """`12.35 ± 0.41` (4 and 3 significant digits); `-` when missing; no ± for a single seed (std NaN)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = f"{mean:.4g}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.3g}"
    return text


def column_header(key: str, hours_label: str) -> str:
    """Header of a metric column, unit included."""
    col = COLUMNS[key]
    if col.column == "train_hours":
        return f"train {hours_label}"
    return f"{col.header} ({col.scale[1]})" if col.scale else col.header


def cell_text(row: pd.Series, key: str) -> str:
    """One table cell: the metric's mean ± std over seeds in display units (costs show no ±: seed-independent)."""
    col = COLUMNS[key]
    scale = col.scale[0] if col.scale else 1.0
    mean, std = row.get(f"{col.column}_mean"), row.get(f"{col.column}_std")
    mean = None if mean is None or pd.isna(mean) else mean / scale
    std = None if std is None or pd.isna(std) or col.source == "profile" else std / scale
    text = format_mean_std(mean, std)
    interval = format_interval(row.get(f"{col.column}_lo"), row.get(f"{col.column}_hi"))
    return f"{text} {interval}" if interval and text != "-" else text


def results_table(table: pd.DataFrame, keys: list[str], hours_label: str) -> str:
    """The Markdown table: model, preset, seeds, then each metric as mean ± std over seeds."""
    headers = ["model", "preset", "seeds", *(column_header(k, hours_label) for k in keys)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * len(keys)) + "|"]
    for _, row in table.iterrows():
        cells = [str(row["model"]), str(row["preset"]), str(row["seeds"]), *(cell_text(row, k) for k in keys)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_results_table(markdown: str) -> list[dict[str, str]]:
    """The first results table of a report as dicts of header -> cell text (used to check reports read back)."""
    rows, headers = [], None
    for line in markdown.splitlines():
        if not line.startswith("| "):
            if headers is not None and rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if headers is None:
            if cells[:2] == ["model", "preset"]:
                headers = cells
        elif not set("".join(cells)) <= set("-: "):
            rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def parse_mean_std(cell: str) -> tuple[float | None, float | None]:
    """Inverse of `format_mean_std`: `'12.35 ± 0.41 [11.5, 13.2]'` -> (12.35, 0.41); `-` -> (None, None)."""
    parsed = parse_cell(cell)
    return parsed["value"], parsed["std"]


def _short(value: Any, width: int = 16) -> str:
    """A hash shortened for a table cell (full values are in the CSV and run directories)."""
    text = str(value)
    return text[:width] + "…" if len(text) > width + 1 else text


def _bcr_text(train: dict[str, Any]) -> str:
    """' with bCR (cr_weight W)' when the runs used balanced consistency regularisation, else ''."""
    if not train.get("bcr"):
        return ""
    return f" with bCR (cr_weight {train.get('cr_weight'):g}; D sees un-augmented images, G step unaugmented)"


def _r1_interval_text(train: dict[str, Any]) -> str:
    """', lazy R1 every K D steps (weight K x r1_gamma)' when the runs used an R1 interval other than 1."""
    interval = _given(train.get("r1_interval"))
    if interval is None or int(interval) == 1:
        return ""
    return (
        f", **lazy R1**: every {int(interval)} D steps with weight {int(interval)} x r1_gamma (reference: every step)"
    )


def _given(value: Any) -> Any:
    """None for a missing value (pandas turns a JSON null into NaN)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def ema_description(train: dict[str, Any]) -> str:
    """The EMA schedule of the runs in words (older runs have no half-life fields: a fixed decay)."""
    halflife, rampup = _given(train.get("ema_halflife_kimg")), _given(train.get("ema_rampup"))
    return EmaSchedule(float(train.get("ema_decay") or 0.0), halflife, rampup).describe()


def _precision_text(amp: Any) -> str:
    """The training precision in words, with the `--amp` value that selects it."""
    return "fp32 (`--amp off`)" if amp == "off" else f"{amp} autocast (`--amp {amp}`)"


def budget_label(train: dict[str, Any]) -> str:
    """The runs' budget in a few words for titles: '16 kimg' or '5 training TFLOPs'."""
    tflops = _given(train.get("budget_tflops"))
    return f"{tflops:g} training TFLOPs" if tflops is not None else f"{train['total_kimg']:g} kimg"


def budget_words(train: dict[str, Any]) -> str:
    """The budget row of the protocol table: real images (kimg) or training compute (TFLOPs, never mixed)."""
    if _given(train.get("budget_tflops")) is None:
        return f"{train['total_kimg']:g} kimg of real images shown to D"
    return (
        f"**{budget_label(train)} per run** (`--budget-tflops`: training stops at the first image count whose "
        "images x the model's counted training FLOPs per real image reach it; equal compute, so each model sees "
        "its own number of images)"
    )


def protocol_lines(info: dict[str, Any]) -> list[str]:
    """The protocol block: budget, data + preprocessing hash, metric protocol, weights hash, device, versions."""
    train = info["training"]
    lines = [
        "| protocol field | value |",
        "|---|---|",
        f"| budget | {budget_words(train)}, identical for every model; "
        "metrics from the EMA generator at the final snapshot (final at budget) |",
        f"| dataset | `{train['data']}` at {train['resolution']} px, "
        f"content + preprocessing hash `{_short(train['data_content_hash'])}` |",
        f"| training | batch {train['batch_size']}, Adam, augmentation `{train['augment']}`{_bcr_text(train)}, "
        f"precision {_precision_text(train['amp'])}{_r1_interval_text(train)} |",
        f"| G_ema | start `{_given(train.get('ema_start')) or 'copy'}`, {ema_description(train)} |",
    ]
    for kind, proto in info["metrics"].items():
        if proto is None:
            continue
        comparable = "" if proto.get("comparable") else " **(test feature network: not comparable with any FID/KID)**"
        lines.append(
            f"| {kind.upper()} protocol | `{proto['metric']}`: {proto['num_gen']} generated vs {proto['num_ref']} "
            f"reference images ({proto.get('reference_split')} split), sample seeds {proto['sample_seeds']}, "
            f"`{proto['resize_mode']}` resize, features `{proto['features']}`{comparable} |"
        )
        lines.append(f"| {kind.upper()} feature weights sha256 | `{_short(proto['weights_sha256'], 24)}` |")
        if proto.get("ci_groups"):
            lines.append(
                f"| {kind.upper()} interval | delete-a-group jackknife over generated samples, "
                f"{int(proto['ci_groups'])} seeded groups, normal approximation |"
            )
    env = info["environment"]
    lines += [
        f"| device | {train['device']} "
        f"({env.get('device_name') or '?'}, {env.get('cpu_threads') or '?'} CPU threads) |",
        f"| versions | python {env.get('python')}, torch {env.get('torch')}, clean-fid {env.get('clean_fid')}, "
        f"ladabench git `{_short(env.get('git_sha'), 10)}`{' (dirty)' if env.get('git_dirty') else ''} |",
    ]
    if env.get("executed"):  # where the grid's cells ran: not part of the protocol (docs/cluster.md)
        lines.append(
            f"| executed | {env['executed']} (the thread count moves results in their last bits, not their "
            "distribution) |"
        )
    if info.get("curve_points"):
        lines.append(f"| learning curves | {info['curve_points']} |")
    if info.get("profile_env"):
        lines.append(f"| profile (cost/speed columns) | {info['profile_env']} |")
    return lines


def render_report(
    title: str,
    info: dict[str, Any],
    table: pd.DataFrame,
    keys: list[str],
    plots: list[tuple[str, str]],
    commands: list[str],
    csv_name: str,
    notes: list[str] | None = None,
    sections: list[str] | None = None,
) -> str:
    """The whole report as Markdown text."""
    models = ", ".join(f"`{m}`" for m in table["model"])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hours_label = info["hours_label"]
    parts = [
        f"# {title}",
        "",
        f"Compared: {models} — {info['num_runs']} runs, training seeds {info['seeds']}; "
        f"generated {stamp} by `ladabench`.",
        "",
        "## Protocol",
        "",
        *protocol_lines(info),
        "",
        "## Results (final at budget; mean ± std over training seeds [95% interval])",
        "",
        results_table(table, keys, hours_label),
        "",
        f"FID/KID: lower is better; KID is ×10³; precision, recall, density, coverage: higher is better. "
        f"Each run's value is itself the mean over the sample seeds. `[lo, hi]`: 95% interval of the model's value "
        f"({COMBINED_CI_METHOD}; se_t from a jackknife over each run's generated samples). "
        f"A single training seed shows no ±. Cost columns come from `ladabench profile`; speed, memory and "
        f"time from the runs' own `stats.jsonl` (median img/s over ticks after the first; peak memory is "
        f"{info['memory_label']}). Raw numbers: [{csv_name}]({csv_name}).",
    ]
    for note in notes or []:
        parts += ["", note]
    for section in sections or []:
        parts += ["", section]
    if plots:
        parts += ["", "## Plots", ""]
        for caption, name in plots:
            parts += [f"### {caption}", "", f"![{caption}]({name})", ""]
    parts += ["## Regenerate", "", "```bash", *commands, "```", ""]
    return "\n".join(parts)
