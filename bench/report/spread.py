"""Which between-model differences the between-seed spread can explain (training-seed noise vs real gaps).

The spread is the pooled sample std over training seeds of one metric (models pooled, each model's
own std weighted by its degrees of freedom). A gap between two models' values, each a mean over n
seeds, is within seed noise when it is below 1.96 * sqrt(2 / n) * pooled std (a two-sided 95% band
for the difference of two independent means with that std).
"""

from __future__ import annotations

import math

import pandas as pd

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def pooled_seed_std(table: pd.DataFrame, column: str) -> tuple[float, int] | None:
    """(pooled std, degrees of freedom) of `column` over training seeds, or None without two seeds of one model."""
    rows = table[(table["n_seeds"] >= 2) & table[f"{column}_std"].notna()]
    if rows.empty:
        return None
    dof = (rows["n_seeds"] - 1).astype(float)
    variance = float((dof * rows[f"{column}_std"] ** 2).sum() / dof.sum())
    return math.sqrt(variance), int(dof.sum())


def within_noise(gap: float, spread: float, seeds_per_value: int) -> bool:
    """True when a gap between two values (each a mean over `seeds_per_value` seeds) is inside the 95% seed band."""
    return abs(gap) <= Z_95 * math.sqrt(2.0 / seeds_per_value) * spread


def spread_note(table: pd.DataFrame, column: str, label: str, spread: tuple[float, int] | None, source: str) -> str:
    """The report's sentence: the spread, then each neighbouring pair of the ranking (lower is better) judged by it."""
    if spread is None:
        return (
            f"**Seed spread of {label}: not measured at this protocol.** Each value comes from one training "
            "run; rerun with two or more `--seeds` to see which gaps between models training noise can "
            "explain."
        )
    std, dof = spread
    ranked = table.sort_values(f"{column}_mean")
    seeds = int(ranked["n_seeds"].min())
    band = Z_95 * math.sqrt(2.0 / seeds) * std
    pairs = []
    for (_, better), (_, worse) in zip(ranked.iterrows(), ranked.iloc[1:].iterrows(), strict=False):
        gap = worse[f"{column}_mean"] - better[f"{column}_mean"]
        verdict = "within seed noise" if within_noise(gap, std, seeds) else "larger than seed noise"
        pairs.append(f"`{better['model']}` vs `{worse['model']}`: {gap:.3g} ({verdict})")
    return (
        f"**Seed spread of {label}:** pooled std over training seeds {std:.3g} ({dof} degrees of freedom, "
        f"{source}); with {seeds} seed(s) per value a gap below {band:.3g} can be training noise (95%). "
        "Neighbours in the ranking: " + "; ".join(pairs) + "."
    )


def spread_notes(
    table: pd.DataFrame, kinds: list[str], borrowed: pd.DataFrame | None = None, borrowed_source: str = ""
) -> list[str]:
    """One spread sentence per quality metric: from the report's own training seeds, else from `borrowed`.

    `borrowed` is another report's per-model table of the same protocol (checked by the caller), used
    only for a metric whose spread this report cannot measure itself (fewer than two seeds).
    """
    notes = []
    for kind in kinds:
        if f"{kind}_mean" not in table or not table[f"{kind}_mean"].notna().any():
            continue
        spread, source = pooled_seed_std(table, kind), "this report's training seeds"
        if spread is None and borrowed is not None and f"{kind}_std" in borrowed:
            spread, source = pooled_seed_std(borrowed, kind), borrowed_source
        notes.append(spread_note(table, kind, kind.upper(), spread, source))
    return notes
