"""Learning curves: FID/KID at every evaluated snapshot against kimg and against cumulative training FLOPs.

The points are the runs' metric lines at the report's metric protocol (initialisation, every evaluated
snapshot, the budget); the band is one standard deviation over training seeds at each point. Cumulative
training FLOPs = images seen x the run's training FLOPs per real image: the count a --budget-tflops run
recorded in options.json, else the profile's `train_flops_per_real_image` for its model and preset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.files import atomic_write_text
from bench.report import plots

MIN_CURVE_POINTS = 5  # initialisation, three or more snapshots and the budget: fewer cannot show a trend
CURVE_COLUMNS = ("run", "model", "seed", "metric", "kind", "snapshot", "kimg", "value", "train_tflops")


def _flops_per_image(runs: pd.DataFrame, profile: pd.DataFrame) -> pd.Series:
    """Per run: its training FLOPs per real image (its own recorded count first, else the profile's), NaN if unknown."""
    recorded = runs.get("train_flops_per_image", pd.Series(index=runs.index, dtype=float)).astype(float)
    if not profile.empty and "train_flops_per_real_image" in profile:
        counts = profile.drop_duplicates(["model", "preset"], keep="last").set_index(["model", "preset"])
        counted = runs.apply(
            lambda r: counts["train_flops_per_real_image"].get((r["model"], r["preset"]), float("nan")), axis=1
        ).astype(float)
        recorded = recorded.fillna(counted)
    return pd.Series(recorded.to_numpy(), index=runs["run"])


def curve_table(metrics: pd.DataFrame, runs: pd.DataFrame, profile: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (run, evaluated point) of `metric`, oldest first; a point evaluated twice keeps its latest value."""
    if metrics.empty or metric not in set(metrics["metric"]):
        return pd.DataFrame(columns=CURVE_COLUMNS)
    rows = metrics[(metrics["metric"] == metric) & metrics["run"].isin(runs["run"])]
    rows = rows.sort_values("timestamp", na_position="first").drop_duplicates(["run", "snapshot"], keep="last")
    per_image = _flops_per_image(runs, profile)
    rows = rows.assign(train_tflops=rows["kimg"] * 1000 * rows["run"].map(per_image) / 1e12)
    return rows.sort_values(["model", "seed", "kimg"])[list(CURVE_COLUMNS)].reset_index(drop=True)


def points_per_run(curves: pd.DataFrame) -> dict[str, int]:
    """How many evaluated points each run's curve has (its shortest over the metrics drawn)."""
    return curves.groupby(["run", "metric"])["kimg"].count().groupby(level="run").min().to_dict()


def curves_note(curves: pd.DataFrame, promised: int) -> str | None:
    """A note naming runs whose curve has fewer than `promised` points (the grid evaluates too few snapshots)."""
    short = {run: n for run, n in points_per_run(curves).items() if n < promised}
    if not short:
        return None
    listed = ", ".join(f"`{run}` ({n})" for run, n in sorted(short.items()))
    return (
        f"Learning curves with fewer than {promised} evaluated points: {listed}; evaluate more snapshots "
        "(`ladabench eval RUN --snapshot KIMG`) to see whether a model still improves."
    )


def write_curves(
    stem: Path, metrics: pd.DataFrame, runs: pd.DataFrame, profile: pd.DataFrame, metric_names: list[str]
) -> tuple[pd.DataFrame, Path | None, Path | None]:
    """(curve data, `<stem>-curves.csv`, `<stem>-curves.png`) of `metric_names`; the paths are None without data."""
    tables = [t for t in (curve_table(metrics, runs, profile, name) for name in metric_names) if not t.empty]
    if not tables:
        return pd.DataFrame(columns=CURVE_COLUMNS), None, None
    curves = pd.concat(tables, ignore_index=True)
    csv_path = stem.with_name(f"{stem.name}-curves.csv")
    atomic_write_text(csv_path, curves.to_csv(index=False))
    png_path = plots.learning_curves(curves, stem.with_name(f"{stem.name}-curves.png"))
    return curves, csv_path, png_path


def curves_section(csv_path: Path | None, png_path: Path | None) -> str | None:
    """The report's 'Learning curves' section (figure + data link), or None without curve data."""
    if png_path is None or csv_path is None:
        return None
    return "\n".join(
        [
            "## Learning curves",
            "",
            "Every evaluated point of every run (initialisation, the evaluated snapshots, the budget) at the metric "
            "protocol above; line: mean over training seeds, band: ±1 std over seeds. Right: the same points against "
            "cumulative training compute (images seen x the model's counted training FLOPs per real image). "
            f"Data: [{csv_path.name}]({csv_path.name}).",
            "",
            f"![learning curves]({png_path.name})",
        ]
    )
