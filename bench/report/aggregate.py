"""One table row per model: final metrics, cost and speed, mean and std over training seeds, 95% intervals."""

from __future__ import annotations

import pandas as pd

from bench.report.columns import COLUMNS
from bench.report.intervals import combined_interval

GROUP_KEYS = ["model", "preset", "data"]


def per_run_table(runs: pd.DataFrame, final: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """One row per run with every metric column (NaN where a metric is not available)."""
    table = runs[["run", *GROUP_KEYS, "seed", "train_img_per_sec", "peak_mem_bytes", "wall_s"]].copy()
    table["peak_mem_mib"] = table["peak_mem_bytes"] / 2**20
    table["train_hours"] = table["wall_s"] / 3600
    for col in (c for c in COLUMNS.values() if c.kind):
        rows = final[final["kind"] == col.kind] if not final.empty else pd.DataFrame(columns=["run"])
        # precision/recall/... come from their line's components; other kinds from its value and interval
        fields = {col.column: col.column} if col.kind == "pr" else {"value": col.column, "ci_se": f"{col.column}_ci_se"}
        rows = rows.reindex(columns=["run", *fields]).rename(columns=fields)
        table = table.merge(rows, on="run", how="left")
    if not profile.empty:
        cost_columns = [c.column for c in COLUMNS.values() if c.source == "profile" and c.column in profile]
        table = table.merge(profile[["model", "preset", *cost_columns]], on=["model", "preset"], how="left")
    return table


def aggregate(per_run: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for one seed) over seeds of each metric, one row per model/preset/data."""
    columns = [COLUMNS[k].column for k in keys]
    for column in columns:
        if column not in per_run:
            per_run[column] = float("nan")
    grouped = per_run.groupby(GROUP_KEYS, sort=False)
    out = grouped[columns].agg(["mean", "std"])
    out.columns = [f"{col}_{stat}" for col, stat in out.columns]
    for column in (c for c in columns if f"{c}_ci_se" in per_run):
        bounds = grouped[[column, f"{column}_ci_se"]].apply(
            lambda g, c=column: pd.Series(combined_interval(g[c], g[f"{c}_ci_se"]), index=["lo", "hi", "se"])
        )
        for part in ("lo", "hi", "se"):
            out[f"{column}_{part}"] = bounds[part]
    out["seeds"] = grouped["seed"].apply(lambda s: ",".join(str(v) for v in sorted(s)))
    out["n_seeds"] = grouped["seed"].nunique()
    return out.reset_index()
