"""The reader's baseline: each model's FID/KID at initialisation beside its value at the budget.

`ladabench bench` evaluates every run's G before its first step under the run's own metric protocol
(metric lines with `snapshot: "init"`); at small budgets the ratio budget/init says more than the
raw number, which at N=250 carries a large bias of its own.
"""

from __future__ import annotations

import pandas as pd

from bench.core.records import INIT_SNAPSHOT


def init_vs_final(metrics: pd.DataFrame, final: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """Per model (in `models` order) and metric: runs, mean value at init, at the budget, and mean ratio budget/init."""
    if metrics.empty or final.empty or "snapshot" not in metrics:
        return pd.DataFrame()
    init = metrics[metrics["snapshot"] == INIT_SNAPSHOT].sort_values("timestamp", na_position="first")
    init = init.groupby(["run", "metric"], as_index=False).last()[["run", "metric", "value"]]
    paired = final[final["kind"].isin(["kid", "fid"])][["run", "model", "metric", "kind", "value"]].merge(
        init, on=["run", "metric"], suffixes=("", "_init")
    )
    if paired.empty:
        return pd.DataFrame()
    paired["ratio"] = paired["value"] / paired["value_init"]
    order = {m: i for i, m in enumerate(dict.fromkeys([*(models or []), *final["model"]]))}
    table = paired.groupby(["model", "metric", "kind"], as_index=False).agg(
        runs=("run", "count"), at_init=("value_init", "mean"), at_budget=("value", "mean"), ratio=("ratio", "mean")
    )
    table["order"] = table["model"].map(order)
    return table.sort_values(["order", "kind"], ascending=[True, False]).drop(columns="order").reset_index(drop=True)


def init_section(metrics: pd.DataFrame, final: pd.DataFrame, models: list[str] | None = None) -> str | None:
    """The Markdown section with the init-vs-budget table, or None when no run was evaluated at initialisation."""
    table = init_vs_final(metrics, final, models)
    if table.empty:
        return None
    lines = [
        "## From initialisation to the budget",
        "",
        "The same metric protocol applied to each run's G before its first step (built from the run's seed) "
        "and to G_ema at the budget; mean over training seeds, lower is better.",
        "",
        "| model | metric | runs | at initialisation | at the budget | budget / init |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.model} | {r.metric} | {r.runs} | {r.at_init:.4g} | {r.at_budget:.4g} | {r.ratio:.2f} |"
        for r in table.itertuples()
    ]
    return "\n".join(lines)
