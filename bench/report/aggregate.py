"""One table row per model: final metrics, cost and speed, mean and std over training seeds, 95% intervals."""

from __future__ import annotations

import pandas as pd

from bench.core.errors import UserError
from bench.report.intervals import combined_interval

# `--metric` names -> (column, header, source). Sources: final metric lines, run stats, or profile rows.
METRICS: dict[str, tuple[str, str, str]] = {
    "fid": ("fid", "FID", "metric"),
    "kid": ("kid", "KID x10^3", "metric"),
    "pr": ("precision", "precision (k=3)", "metric"),
    "recall": ("recall", "recall (k=3)", "metric"),
    "density": ("density", "density (k=3)", "metric"),
    "coverage": ("coverage", "coverage (k=3)", "metric"),
    "fd-dinov2": ("fd_dinov2", "FD-DINOv2", "metric"),
    "flops": ("g_macs_per_image", "G MACs/img", "profile"),
    "train-flops": ("train_flops_per_real_image", "train FLOPs/real img", "profile"),
    "params": ("params_g", "G params", "profile"),
    "params-d": ("params_d", "D params", "profile"),
    "imgs-per-sec": ("train_img_per_sec", "train img/s", "run"),
    "peak-mem": ("peak_mem_mib", "peak mem (MiB)", "run"),
    "gpu-hours": ("train_hours", "train hours", "run"),
}
# `flops` and `params` bring their companions (D params, training FLOPs): a reader needs both halves.
COMPANIONS = {"flops": ("train-flops",), "params": ("params-d",), "pr": ("recall", "density", "coverage")}
HIDDEN = ("train-flops", "params-d", "recall", "density", "coverage")  # come only as companions
# Metric-line kind -> table column, for kinds whose value (and interval) is one number per run.
KIND_COLUMNS = {"fid": "fid", "kid": "kid", "fid-dinov2": "fd_dinov2"}
PRDC_COLUMNS = ("precision", "recall", "density", "coverage")
LOWER_IS_BETTER = {"fid": True, "kid": True, "fd_dinov2": True, **{c: False for c in PRDC_COLUMNS}}
GROUP_KEYS = ["model", "preset", "data"]


def parse_metric_list(text: str) -> list[str]:
    """`fid,kid,flops` -> the metric keys, in order, companions added; a UserError lists known names."""
    keys: list[str] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part not in METRICS:
            raise UserError(f"--metric '{part}' is unknown; known: {', '.join(k for k in METRICS if k not in HIDDEN)}")
        for key in (part, *COMPANIONS.get(part, ())):
            if key not in keys:
                keys.append(key)
    if not keys:
        raise UserError("--metric is empty; pass e.g. --metric fid,kid,flops,imgs-per-sec")
    return keys


def per_run_table(runs: pd.DataFrame, final: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """One row per run with every metric column (NaN where a metric is not available)."""
    table = runs[["run", *GROUP_KEYS, "seed", "train_img_per_sec", "peak_mem_bytes", "wall_s"]].copy()
    table["peak_mem_mib"] = table["peak_mem_bytes"] / 2**20
    table["train_hours"] = table["wall_s"] / 3600
    for kind, column in KIND_COLUMNS.items():
        rows = final[final["kind"] == kind] if not final.empty else pd.DataFrame(columns=["run", "value", "ci_se"])
        rows = rows.reindex(columns=["run", "value", "ci_se"])
        table = table.merge(rows.rename(columns={"value": column, "ci_se": f"{column}_ci_se"}), on="run", how="left")
    pr_rows = final[final["kind"] == "pr"] if not final.empty else pd.DataFrame(columns=["run"])
    table = table.merge(pr_rows.reindex(columns=["run", *PRDC_COLUMNS]), on="run", how="left")
    if not profile.empty:
        cost_columns = [c for c in ("params_g", "params_d", "g_macs_per_image", "train_flops_per_real_image") if c in profile]
        table = table.merge(profile[["model", "preset", *cost_columns]], on=["model", "preset"], how="left")
    return table


def aggregate(per_run: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for one seed) over seeds of each metric, one row per model/preset/data."""
    columns = [METRICS[k][0] for k in keys]
    for column in columns:
        if column not in per_run:
            per_run[column] = float("nan")
    grouped = per_run.groupby(GROUP_KEYS, sort=False)
    out = grouped[columns].agg(["mean", "std"])
    out.columns = [f"{col}_{stat}" for col, stat in out.columns]
    for column in (c for c in columns if f"{c}_ci_se" in per_run):
        bounds = grouped[[column, f"{column}_ci_se"]].apply(lambda g, c=column: pd.Series(
            combined_interval(g[c], g[f"{c}_ci_se"]), index=["lo", "hi", "se"]))
        for part in ("lo", "hi", "se"):
            out[f"{column}_{part}"] = bounds[part]
    out["seeds"] = grouped["seed"].apply(lambda s: ",".join(str(v) for v in sorted(s)))
    out["n_seeds"] = grouped["seed"].nunique()
    return out.reset_index()
