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


def gap_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per metric, each model against the first one at every kimg both evaluated with two or more seeds each.

    The gap (model minus the first model; lower is better, so a positive gap favours the first) is within seed
    noise when below the 95% band of the report's seed-spread rule (`bench.report.spread`), with the std
    pooled over the two models' seeds at that point.
    """
    rows = []
    for metric, data in curves.groupby("metric", sort=False):
        models = list(dict.fromkeys(data["model"]))
        stats = data.groupby(["model", "kimg"])["value"].agg(["mean", "std", "count"])
        for other in models[1:]:
            for kimg in sorted(
                set(data.loc[data["model"] == models[0], "kimg"]) & set(data.loc[data["model"] == other, "kimg"])
            ):
                ref, oth = stats.loc[(models[0], kimg)], stats.loc[(other, kimg)]
                if min(ref["count"], oth["count"]) < 2:
                    continue
                dof_ref, dof_oth = ref["count"] - 1, oth["count"] - 1
                pooled = ((dof_ref * ref["std"] ** 2 + dof_oth * oth["std"] ** 2) / (dof_ref + dof_oth)) ** 0.5
                seeds = int(min(ref["count"], oth["count"]))
                gap = oth["mean"] - ref["mean"]
                rows.append(
                    {
                        "metric": metric,
                        "kimg": kimg,
                        "reference": models[0],
                        "model": other,
                        "reference_mean": ref["mean"],
                        "model_mean": oth["mean"],
                        "gap": gap,
                        "band": Z_95 * (2.0 / seeds) ** 0.5 * pooled,
                        "seeds": seeds,
                        "beyond_noise": not within_noise(gap, pooled, seeds),
                    }
                )
    return pd.DataFrame(rows)


def gap_section(curves: pd.DataFrame) -> str | None:
    """The report's 'Gap by budget' section: where along training the gap between models is beyond seed noise."""
    table = gap_table(curves)
    if table.empty:
        return None
    lines = [
        "## Gap by budget",
        "",
        "At every evaluated point with two or more training seeds per model: each model minus the first one "
        "(lower is better, so a positive gap favours the first). The gap is beyond seed noise when larger than "
        f"{Z_95:.2f} x sqrt(2 / seeds) x the std over seeds pooled over both models at that point (the rule of "
        "the seed-spread notes above).",
        "",
        "| metric | kimg | first model | model | first model's mean | model's mean | gap | 95% seed band | beyond noise |",
        "|---|---:|---|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.metric} | {r.kimg:g} | {r.reference} | {r.model} | {r.reference_mean:.4g} | {r.model_mean:.4g} | "
        f"{r.gap:+.3g} | {r.band:.3g} | {'**yes**' if r.beyond_noise else 'no'} |"
        for r in table.itertuples()
    ]
    summary = []
    for (metric, model), rows in table.groupby(["metric", "model"], sort=False):
        beyond = [f"{k:g}" for k in rows.loc[rows["beyond_noise"], "kimg"]]
        trained = rows[rows["kimg"] > 0]
        trend = (
            f"|gap| {abs(trained['gap'].iloc[0]):.3g} at {trained['kimg'].iloc[0]:g} kimg, "
            f"{abs(trained['gap'].abs().max()):.3g} at most, {abs(trained['gap'].iloc[-1]):.3g} at "
            f"{trained['kimg'].iloc[-1]:g} kimg"
            if len(trained) >= 2
            else "too few trained points for a trend"
        )
        where = f"beyond seed noise at {', '.join(beyond)} kimg" if beyond else "within seed noise at every point"
        summary.append(f"- {metric}, {model} vs {rows['reference'].iloc[0]}: {where}; {trend}.")
    return "\n".join([*lines, "", *summary])


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
