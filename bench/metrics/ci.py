"""The interval protocol shared by metrics and reports (no torch import: the CLI reads these at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CI_GROUPS = 25  # jackknife groups of generated samples
CI_SEED = 0
CI_Z = 1.959963984540054  # two-sided 95% quantile of the standard normal
CI_METHOD = (
    "delete-a-group jackknife over generated samples (seeded groups, reference fixed), "
    "normal approximation: value +- 1.96*SE"
)


@dataclass(frozen=True)
class Interval:
    """A 95% interval with the standard error it came from."""

    lo: float
    hi: float
    se: float


def interval(value: float, se: float) -> Interval:
    """`value +- 1.96 * se`."""
    return Interval(lo=value - CI_Z * se, hi=value + CI_Z * se, se=se)


def pooled_se(per_seed_se: list[float]) -> float:
    """Standard error of the mean of independent per-seed values, each with its own SE."""
    ses = np.asarray(per_seed_se, dtype=np.float64)
    return float(np.sqrt(np.sum(ses**2)) / len(ses))
