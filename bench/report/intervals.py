"""95% intervals in tables: formatting `value [lo, hi]` and combining sample and training-seed spread.

A run's FID/KID line carries a jackknife interval over its generated samples. A model's table value
is the mean over its T training seeds; its interval is `mean +- 1.96 * SE` with

    SE^2 = s^2 / T + (sum_t se_t^2) / T^2

where s is the standard deviation of the T run values (0 for one seed) and se_t each run's jackknife
standard error. The first term is the spread between training runs, the second the sampling error
of the generated sets; with several seeds the first already contains part of the second, so the
interval errs on the wide side.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from bench.metrics.ci import CI_Z

COMBINED_CI_METHOD = "mean over training seeds +- 1.96*sqrt(s^2/T + sum(se_t^2)/T^2)"
_CELL = re.compile(
    r"^\s*(?P<value>[-+0-9.eE]+)(?:\s*±\s*(?P<std>[-+0-9.eE]+))?(?:\s*\[(?P<lo>[-+0-9.eE]+),\s*(?P<hi>[-+0-9.eE]+)\])?\s*$"
)


def _missing(value: object) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_interval(lo: float | None, hi: float | None) -> str:
    """`[11.2, 13.5]` (4 significant digits), or '' when there is no interval."""
    if _missing(lo) or _missing(hi):
        return ""
    return f"[{lo:.4g}, {hi:.4g}]"


def parse_cell(cell: str) -> dict[str, float | None]:
    """`'12.35 ± 0.41 [11.2, 13.5]'` -> value, std, lo, hi (absent parts None); `-` -> all None."""
    match = _CELL.match(cell)
    if cell.strip() == "-" or not match:
        return {"value": None, "std": None, "lo": None, "hi": None}
    return {key: (float(text) if text is not None else None) for key, text in match.groupdict().items()}


def combined_interval(values: pd.Series, ses: pd.Series) -> tuple[float, float, float]:
    """(lo, hi, se) of the mean of run values with per-run SEs; NaN when any SE is missing."""
    vals = np.asarray(values, dtype=np.float64)
    errs = np.asarray(ses, dtype=np.float64)
    if len(vals) == 0 or np.isnan(vals).any() or np.isnan(errs).any():
        return math.nan, math.nan, math.nan
    spread = float(np.var(vals, ddof=1)) if len(vals) > 1 else 0.0
    se = math.sqrt(spread / len(vals) + float(np.sum(errs**2)) / len(vals) ** 2)
    mean = float(vals.mean())
    return mean - CI_Z * se, mean + CI_Z * se, se
