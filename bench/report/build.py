"""The compare pipeline: runs + profiles -> checked, aggregated table -> Markdown, CSV and PNG files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import UserError
from bench.core.files import atomic_write_text
from bench.core.records import FD_DINOV2_KIND
from bench.metrics.registry import QUALITY_METRICS
from bench.report import plots
from bench.report.aggregate import aggregate, per_run_table
from bench.report.columns import COLUMNS, eval_hint, quality_kinds
from bench.report.curves import (
    MIN_CURVE_POINTS,
    curves_note,
    curves_section,
    evaluated_points_text,
    gap_section,
    write_curves,
)
from bench.report.gather import final_metrics, find_run_dirs, gather_runs, load_profile_files
from bench.report.initial import init_section
from bench.report.markdown import budget_label, render_report
from bench.report.protocol import (
    check_metric_protocol,
    check_training_protocol,
    metric_protocol,
    training_protocol,
)
from bench.report.regression import Change, compare_with, load_previous, regressions_markdown
from bench.report.samples import samples_section, write_sample_figure
from bench.report.spread import spread_notes
from bench.report.spread_source import load_spread_source, write_protocol

REPORT_KINDS = (*QUALITY_METRICS, FD_DINOV2_KIND)  # metric-line kinds with a protocol block in the report


@dataclass
class Report:
    """What a built report holds and where its files went."""

    table: pd.DataFrame
    keys: list[str]
    info: dict[str, Any]
    markdown_path: Path
    csv_path: Path
    plot_paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # against an older report, when one was given
    figure_paths: list[Path] = field(default_factory=list)  # sample grids and learning curves (their own sections)


def _select_metric_names(final: pd.DataFrame, runs: list[str]) -> pd.DataFrame:
    """Per kind keep one metric name: the largest-N name every run has (others would mix protocols)."""
    kept = []
    for _kind, rows in final.groupby("kind"):
        per_run = rows.groupby("run")["metric"].apply(set)
        common = set.intersection(*per_run) if len(per_run) == len(runs) else set()
        if common:
            best = max(common, key=lambda name: rows[rows["metric"] == name]["num_gen"].iloc[0])
            rows = rows[rows["metric"] == best]
        kept.append(rows)
    return pd.concat(kept, ignore_index=True) if kept else final


def _environment(runs: pd.DataFrame) -> dict[str, Any]:
    """Versions and hardware of the runs (the first run's; `environment_note` names fields that differ)."""
    first = runs.iloc[0]
    fields = ("device_name", "cpu_threads", "python", "torch", "clean_fid", "git_sha", "git_dirty")
    executed = sorted({str(e) for e in runs.get("executed", pd.Series(dtype=object)).dropna()})
    return {**{k: first.get(k) for k in fields}, "executed": "; ".join(executed) or None}


ENV_NOTE_FIELDS = ("cpu_threads", "device_name", "torch", "clean_fid", "python", "git_sha", "git_dirty")


def environment_note(runs: pd.DataFrame) -> str | None:
    """A note naming each environment field that differs between the runs (speed columns then mix conditions)."""
    parts = []
    for name in ENV_NOTE_FIELDS:
        if name not in runs:
            continue
        groups = runs.groupby(runs[name].map(str), sort=True)["run"].apply(list)
        if len(groups) > 1:
            parts.append(
                f"{name}: "
                + "; ".join(f"{value} ({', '.join(f'`{r}`' for r in names)})" for value, names in groups.items())
            )
    if not parts:
        return None
    return (
        "**The runs differ in their environment** (the protocol above is the same; speed, memory and time "
        "columns compare only between runs alike): " + " | ".join(parts) + "."
    )


def _profile_env(profile: pd.DataFrame) -> str | None:
    """One line describing where the profile speed columns were measured, or None without timing."""
    if profile.empty or "batch" not in profile or profile["batch"].isna().all():
        return None
    timed = profile.dropna(subset=["batch"])
    parts = []
    for column in ("device", "device_name", "dtype", "batch"):
        values = sorted({str(v) for v in timed[column].dropna()}) if column in timed else []
        if values:
            parts.append(f"{column} {'/'.join(values)}")
    if "matmul_peak_flops_per_sec" in timed and timed["matmul_peak_flops_per_sec"].notna().any():
        peaks = (
            timed.dropna(subset=["matmul_peak_flops_per_sec"])
            .groupby("roofline_dtype")["matmul_peak_flops_per_sec"]
            .max()
        )
        parts.append("measured matmul peak " + ", ".join(f"{d} {v / 1e12:.3g} TFLOP/s" for d, v in peaks.items()))
    return ", ".join(parts)


def _fid_cost_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per model: final FID mean/std over seeds with G MACs and G params (the Pareto plot's inputs)."""
    columns = [c for c in ("fid", "g_macs_per_image", "params_g") if c in per_run]
    grouped = per_run.groupby(["model", "preset", "data"], sort=False)[columns].agg(["mean", "std"])
    grouped.columns = [f"{c}_{s}" for c, s in grouped.columns]
    out = grouped.reset_index()
    return out.rename(columns={"fid_mean": "value_mean", "fid_std": "value_std"})


def _make_plots(
    stem: Path,
    curves: pd.DataFrame,
    table: pd.DataFrame,
    profile: pd.DataFrame,
    scaling: pd.DataFrame,
    fid_label: str | None,
    hours_label: str,
) -> list[tuple[str, Path]]:
    """Every plot the data supports, as (caption, path)."""
    made: list[tuple[str, Path]] = []
    if fid_label and not curves.empty:
        made.append(
            (f"{fid_label} vs kimg", plots.fid_vs_kimg(curves, fid_label, stem.with_name(f"{stem.name}-fid-kimg.png")))
        )
        if curves["wall_s"].notna().any():
            made.append(
                (
                    f"{fid_label} vs training time",
                    plots.fid_vs_hours(
                        curves.dropna(subset=["wall_s"]),
                        fid_label,
                        hours_label,
                        stem.with_name(f"{stem.name}-fid-hours.png"),
                    ),
                )
            )
    if (
        fid_label
        and {"g_macs_per_image_mean", "params_g_mean", "value_mean"} <= set(table)
        and table["g_macs_per_image_mean"].notna().any()
        and table["value_mean"].notna().any()
    ):
        made.append(
            (
                f"{fid_label} vs G MACs per image",
                plots.fid_vs_macs(
                    table.dropna(subset=["value_mean"]), fid_label, stem.with_name(f"{stem.name}-fid-macs.png")
                ),
            )
        )
    if not profile.empty and "train_img_per_sec" in profile and profile["train_img_per_sec"].notna().any():
        made.append(
            (
                "training speed and memory vs resolution",
                plots.speed_vs_resolution(
                    profile.dropna(subset=["train_img_per_sec"]), stem.with_name(f"{stem.name}-speed.png")
                ),
            )
        )
    if not scaling.empty:
        made.append(
            (
                "attention time and memory vs tokens",
                plots.attention_scaling(scaling, stem.with_name(f"{stem.name}-attention.png")),
            )
        )
    return made


def _complete_runs(runs: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The runs that reached their budget; the others are named in a note (an error when none did)."""
    incomplete = runs[~runs["complete"]]
    if incomplete.empty:
        return runs
    notes.append(
        "Left out (not trained to their budget yet; resume with `ladabench train --resume RUN`): "
        + ", ".join(f"`{r}`" for r in incomplete["run"])
        + "."
    )
    runs = runs[runs["complete"]].reset_index(drop=True)
    if runs.empty:
        raise UserError(
            "no run has reached its kimg budget yet; finish one (`ladabench train --resume RUN`) and compare again"
        )
    return runs


def _checked_final(metrics: pd.DataFrame, runs: pd.DataFrame, keys: list[str], notes: list[str]) -> pd.DataFrame:
    """Final metric rows of the runs, one protocol per quality kind; a note names runs lacking a kind."""
    final = final_metrics(metrics)
    if not final.empty:
        final = _select_metric_names(final, list(runs["run"]))
    for kind in quality_kinds(keys):
        if not final.empty:
            check_metric_protocol(final, kind)
        evaluated = set(final[final["kind"] == kind]["run"]) if not final.empty else set()
        missing = [r for r in runs["run"] if r not in evaluated]
        if missing:
            notes.append(
                f"No final {kind.upper()} for "
                + ", ".join(f"`{r}`" for r in missing)
                + f" (evaluate with `ladabench eval RUN --metrics {eval_hint(kind)}`)."
            )
    return final


def _info(runs: pd.DataFrame, final: pd.DataFrame, profile: pd.DataFrame) -> dict[str, Any]:
    """The report's protocol block: training and metric protocols, environment, labels for the device kind."""
    cuda = str(runs["device"].iloc[0]).startswith("cuda")
    return {
        "training": training_protocol(runs),
        "metrics": {kind: metric_protocol(final, kind) if not final.empty else None for kind in REPORT_KINDS},
        "environment": _environment(runs),
        "profile_env": _profile_env(profile),
        "num_runs": len(runs),
        "seeds": ",".join(str(s) for s in sorted(runs["seed"].unique())),
        "hours_label": "GPU-hours" if cuda else "CPU wall-clock hours",
        "memory_label": "the peak CUDA memory allocated"
        if cuda
        else "the training process's peak resident memory (CPU)",
    }


def _borrowed_spread(path: Path | None, info: dict[str, Any], kinds: list[str], strict: bool, notes: list[str]):
    """The multi-seed report to take the seed spread from; when not `strict`, a mismatch becomes a note."""
    if path is None:
        return None
    try:
        return load_spread_source(path, info, kinds)
    except UserError as exc:
        if strict:
            raise
        notes.append(f"Seed spread not borrowed: {exc}.")
        return None


def checked_runs(
    paths: list[Path], keys: list[str], notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(complete runs, their metric rows, final rows) under `paths`, checked for one protocol; writes nothing.

    Raises a UserError for no runs, unreadable run files, no complete run or mixed protocols; `notes`
    gains what the report says about runs left out.
    """
    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        raise UserError(
            f"no training runs found under {', '.join(str(p) for p in paths)}; train one "
            "(`ladabench train ladagan`) or run `ladabench bench quick`, then compare"
        )
    runs, metrics = gather_runs(run_dirs)
    runs = _complete_runs(runs, notes)
    check_training_protocol(runs)
    metrics = metrics[metrics["run"].isin(runs["run"])] if not metrics.empty else metrics
    return runs, metrics, _checked_final(metrics, runs, keys, notes)


def build_report(
    paths: list[Path],
    keys: list[str],
    out_path: Path,
    profile_paths: list[Path] | None = None,
    title: str | None = None,
    commands: list[str] | None = None,
    notes: list[str] | None = None,
    against: Path | None = None,
    spread_from: Path | None = None,
    spread_strict: bool = True,
) -> Report:
    """Gather, check, aggregate, plot and write the report (Markdown + CSV + PNGs) for the runs under `paths`."""
    notes = list(notes or [])
    runs, metrics, final = checked_runs(paths, keys, notes)
    profile, scaling = load_profile_files(profile_paths or [])
    per_run = per_run_table(runs, final, profile)
    table = aggregate(per_run, keys)
    info = _info(runs, final, profile)
    notes += [n for n in (environment_note(runs),) if n]
    kinds = [COLUMNS[k].column for k in keys if COLUMNS[k].kind and COLUMNS[k].lower_is_better]
    borrowed = _borrowed_spread(spread_from, info, kinds, spread_strict, notes)
    notes += spread_notes(table, kinds, *((borrowed.table, borrowed.source) if borrowed else ()))
    fid_proto = info["metrics"].get("fid")
    fid_label = fid_proto["metric"] if fid_proto else None
    out_path = Path(out_path)
    stem = out_path.with_suffix("")
    curves = metrics[metrics["metric"] == fid_label] if fid_label and not metrics.empty else pd.DataFrame()
    # Every input is read and checked before the first file (a plot) is written: a bad --against changes nothing.
    changes = compare_with(table, load_previous(against), keys, against) if against else []
    made = _make_plots(stem, curves, _fid_cost_table(per_run), profile, scaling, fid_label, info["hours_label"])
    csv_path = stem.with_suffix(".csv")
    atomic_write_text(csv_path, table.to_csv(index=False))
    write_protocol(csv_path, info)
    atomic_write_text(stem.with_name(f"{stem.name}-runs.csv"), per_run.to_csv(index=False))
    title = title or f"ladabench comparison: {info['training']['data']} at {budget_label(info['training'])}"
    models, initial = list(table["model"]), init_section(metrics, final, list(table["model"]))
    samples = write_sample_figure(runs, models, stem.with_name(f"{stem.name}-samples.png"))
    samples_init = (  # beside the from-initialisation table only
        write_sample_figure(runs, models, stem.with_name(f"{stem.name}-samples-init.png"), initial=True)
        if initial
        else None
    )
    names = [proto["metric"] for proto in (info["metrics"].get(k) for k in ("kid", "fid")) if proto]
    curve_data, curves_csv, curves_png = write_curves(stem, metrics, runs, profile, names)
    notes += [n for n in (curves_note(curve_data, MIN_CURVE_POINTS),) if n]
    info["curve_points"] = evaluated_points_text(curve_data)
    sections = [s for s in (samples_section(samples, samples_init),) if s]
    sections += [
        s
        for s in (
            curves_section(curves_csv, curves_png),
            gap_section(curve_data, stem.with_name(f"{stem.name}-gaps.csv")),
            initial,
        )
        if s
    ]
    sections += [regressions_markdown(changes, str(against))] if changes else []
    text = render_report(
        title, info, table, keys, [(c, p.name) for c, p in made], commands or [], csv_path.name, notes, sections
    )
    atomic_write_text(out_path, text)
    figures = [f.path for f in (samples, samples_init) if f] + [p for p in (curves_png,) if p]
    return Report(table, keys, info, out_path, csv_path, [p for _, p in made], notes, changes, figures)
