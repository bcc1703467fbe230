"""Two grids of the same models and training seeds, compared seed by seed: the README's precision table.

Each report writes `<stem>-runs.csv` (one row per run). Pairing the runs of grid B with those of grid A
by model and training seed removes the seed's own effect from the difference B − A; the interval is
Student's t over the paired differences (few seeds: wide, and honest about it).

    python scripts/paired_runs.py reports/fashion32-seeds-runs.csv reports/fashion32-seeds-bf16-runs.csv --metric fid
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats


def paired_rows(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per model: both grids' values by seed, the differences b − a, their mean and 95% t interval."""
    merged = a.merge(b, on=["model", "seed"], suffixes=("_a", "_b"))
    rows = []
    for model, group in merged.groupby("model", sort=False):
        group = group.sort_values("seed")
        diff = (group[f"{metric}_b"] - group[f"{metric}_a"]).to_numpy()
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
        rows.append(
            {
                "model": model,
                "seeds": list(group["seed"]),
                "a": list(group[f"{metric}_a"]),
                "b": list(group[f"{metric}_b"]),
                "diff": list(diff),
                "mean": diff.mean(),
                "lo": diff.mean() - half,
                "hi": diff.mean() + half,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    """Print the Markdown table of the paired comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="runs CSV of the baseline grid (e.g. fp32)")
    parser.add_argument("b", help="runs CSV of the other grid (e.g. bf16)")
    parser.add_argument("--metric", default="fid", help="column to compare (fid, kid, ...)")
    args = parser.parse_args()
    table = paired_rows(pd.read_csv(args.a), pd.read_csv(args.b), args.metric)

    def join(values: list[float], sign: bool = False) -> str:
        return " / ".join(f"{v:+.1f}" if sign else f"{v:.1f}" for v in values)

    print(f"| model | seeds | {args.metric} A | {args.metric} B | B − A per seed | mean [paired 95%] |")
    print("|---|---|---|---|---|---|")
    for row in table.itertuples():
        print(
            f"| {row.model} | {','.join(map(str, row.seeds))} | {join(row.a)} | {join(row.b)} | "
            f"{join(row.diff, sign=True)} | {row.mean:+.1f} [{row.lo:+.0f}, {row.hi:+.0f}] |"
        )


if __name__ == "__main__":
    main()
