"""Learning curves: FID/KID at every evaluated snapshot against kimg and against cumulative training FLOPs.

The points are the runs' metric lines at the report's metric protocol (initialisation, every evaluated
snapshot, the budget); the band is one standard deviation over training seeds at each point. Cumulative
training FLOPs = images seen x the run's training FLOPs per real image: the count a --budget-tflops run
recorded in options.json, else the profile's `train_flops_per_real_image` for its model and preset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.files import atomic_write_text
from bench.report import plots
from bench.report.spread import Z_95, within_noise

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
    order = {model: i for i, model in enumerate(dict.fromkeys(runs["model"]))}  # the report's row order
    rows = rows.assign(order=rows["model"].map(order)).sort_values(["order", "seed", "kimg"])
    return rows[list(CURVE_COLUMNS)].reset_index(drop=True)


def points_per_run(curves: pd.DataFrame) -> dict[str, int]:
    """How many evaluated points each run's curve has (its shortest over the metrics drawn)."""
    return curves.groupby(["run", "metric"])["kimg"].count().groupby(level="run").min().to_dict()


def evaluated_points_text(curves: pd.DataFrame) -> str | None:
    """The evaluated points in words for the protocol table ('initialisation, 4, 8, 12, 16 kimg: 5 per run')."""
    if curves.empty:
        return None
    per_run = curves.groupby("run")["kimg"].apply(lambda k: tuple(sorted(set(k))))
    if per_run.nunique() != 1:
        counts = sorted(set(per_run.map(len)))
        return f"{counts[0]} to {counts[-1]} evaluated points per run (the runs' snapshots differ)"
    points = per_run.iloc[0]
    words = ["initialisation" if k == 0 else f"{k:g}" for k in points]
    return f"{', '.join(words)} kimg: {len(points)} evaluated points per run"


def curves_note(curves: pd.DataFrame, promised: int) -> str | None:
    """A note naming runs whose curve has fewer than `promised` points (the grid evaluates too few snapshots)."""
    short = {run: n for run, n in points_per_run(curves).items() if n < promised}
    if not short:
        return None
    listed = ", ".join(f"`{run}` ({n})" for run, n in sorted(short.items()))
    return (
        f"Learning curves with fewer than {promised} evaluated points: {listed}; train with a shorter "
        "`--snapshot-kimg` (the grids evaluate every snapshot) to see whether a model still improves."
    )


AXES = {"kimg": "kimg", "train_tflops": "training TFLOPs"}  # the gap tables' x: images, or training compute


def _seed_values(data: pd.DataFrame, model: str, x: str, points: list[float]) -> pd.DataFrame:
    """A model's value per seed at `points` of axis `x`: exact where evaluated, linear between its evaluated points.

    Points outside a seed's evaluated range are left out (no extrapolation).
    """
    rows = []
    for seed, curve in data[data["model"] == model].dropna(subset=[x]).groupby("seed"):
        curve = curve.sort_values(x)
        xs, ys = curve[x].to_numpy(float), curve["value"].to_numpy(float)
        for point in points:
            if xs[0] - 1e-12 <= point <= xs[-1] + 1e-12:
                rows.append({"seed": seed, "point": point, "value": float(np.interp(point, xs, ys))})
    return pd.DataFrame(rows, columns=["seed", "point", "value"])


def gap_table(curves: pd.DataFrame, x: str = "kimg") -> pd.DataFrame:
    """Per metric, each model against the first one at the first model's evaluated points of axis `x`.

    With x = "kimg" the points are the kimg both evaluated; with x = "train_tflops" (equal training compute)
    the other model's per-seed curve is interpolated linearly between its evaluated snapshots. The gap (model
    minus the first model; lower is better, so a positive gap favours the first) is beyond seed noise when
    above the 95% band of the report's seed-spread rule (`bench.report.spread`), the std over seeds pooled
    over both models at that point; points with fewer than two seeds per model are left out.
    """
    rows = []
    for metric, data in curves.groupby("metric", sort=False):
        models = list(dict.fromkeys(data["model"]))
        reference = data[data["model"] == models[0]].dropna(subset=[x])
        points = sorted(set(reference[x]))
        ref_values = _seed_values(data, models[0], x, points)
        for other in models[1:]:
            candidates = points if x != "kimg" else sorted(set(points) & set(data.loc[data["model"] == other, x]))
            other_values = _seed_values(data, other, x, candidates)
            for point in candidates:
                ref = ref_values.loc[ref_values["point"] == point, "value"]
                oth = other_values.loc[other_values["point"] == point, "value"]
                if min(len(ref), len(oth)) < 2:
                    continue
                dof_ref, dof_oth = len(ref) - 1, len(oth) - 1
                pooled = ((dof_ref * ref.var() + dof_oth * oth.var()) / (dof_ref + dof_oth)) ** 0.5
                seeds = min(len(ref), len(oth))
                gap = float(oth.mean() - ref.mean())
                rows.append(
                    {
                        "metric": metric,
                        "axis": x,
                        "point": point,
                        "reference": models[0],
                        "model": other,
                        "reference_mean": float(ref.mean()),
                        "model_mean": float(oth.mean()),
                        "gap": gap,
                        "band": Z_95 * (2.0 / seeds) ** 0.5 * pooled,
                        "seeds": seeds,
                        "beyond_noise": not within_noise(gap, pooled, seeds),
                    }
                )
    return pd.DataFrame(rows)


def _wide_gaps(table: pd.DataFrame) -> list[str]:
    """One Markdown row per (metric, model): its gap at each point, bold where beyond seed noise."""
    points = sorted(set(table["point"]))
    unit = AXES[table["axis"].iloc[0]]
    lines = [
        "| metric | model − " + str(table["reference"].iloc[0]) + " | " + " | ".join(f"{p:.3g}" for p in points) + " |",
        "|---|---|" + "---:|" * len(points),
        *(
            f"| {metric} | {model} | "
            + " | ".join(
                (f"**{r.gap:+.3g}**" if r.beyond_noise else f"{r.gap:+.3g}") if r is not None else "-"
                for r in (next(iter(rows[rows["point"] == p].itertuples()), None) for p in points)
            )
            + " |"
            for (metric, model), rows in table.groupby(["metric", "model"], sort=False)
        ),
    ]
    return [f"Columns: {unit}.", "", *lines]


def _trend(rows: pd.DataFrame) -> str:
    """Where a pair's gap is beyond seed noise and how its size moves from the first trained point to the last."""
    unit = AXES[rows["axis"].iloc[0]]
    beyond = [f"{p:.3g}" for p in rows.loc[rows["beyond_noise"], "point"]]
    trained = rows[rows["point"] > 0]
    where = f"beyond seed noise at {', '.join(beyond)} {unit}" if beyond else "within seed noise at every point"
    if len(trained) < 2:
        return f"{where}; too few trained points for a trend"
    first, last = trained.iloc[0], trained.iloc[-1]
    return (
        f"{where}; |gap| {abs(first['gap']):.3g} at {first['point']:.3g}, {trained['gap'].abs().max():.3g} at most, "
        f"{abs(last['gap']):.3g} at {last['point']:.3g} {unit}"
    )


def gap_section(curves: pd.DataFrame, csv_path: Path | None = None) -> str | None:
    """The report's 'Gap by budget' section: at equal kimg and at equal training compute; the data to `csv_path`."""
    tables = {x: gap_table(curves, x) for x in AXES if x in curves and curves[x].notna().any()}
    tables = {x: t for x, t in tables.items() if not t.empty}
    if not tables:
        return None
    if csv_path is not None:
        atomic_write_text(csv_path, pd.concat(tables.values(), ignore_index=True).to_csv(index=False))
    lines = [
        "## Gap by budget",
        "",
        "Each model minus the first one at the first model's evaluated points, with two or more training seeds "
        "per model (lower is better, so a positive gap favours the first). **Bold**: beyond seed noise, i.e. "
        f"larger than {Z_95:.2f} x sqrt(2 / seeds) x the std over seeds pooled over both models at that point "
        "(the rule of the seed-spread notes above)."
        + (f" Means, bands and seeds per point: [{csv_path.name}]({csv_path.name})." if csv_path is not None else ""),
    ]
    titles = {
        "kimg": "### At equal images (kimg)",
        "train_tflops": "### At equal training compute (TFLOPs; the other model's curve interpolated linearly "
        "between its evaluated snapshots)",
    }
    for x, table in tables.items():
        lines += ["", titles[x], "", *_wide_gaps(table), ""]
        lines += [
            f"- {metric}, {model} vs {rows['reference'].iloc[0]}: {_trend(rows)}."
            for (metric, model), rows in table.groupby(["metric", "model"], sort=False)
        ]
    return "\n".join(lines)


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
