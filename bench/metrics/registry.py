"""The quality-metric registry: one entry per metric kind (FID, KID), DiT-style a plain dict.

An entry declares its name grammar (`<kind><N>[k]_<split>[-<features>]`, see `names`), how it is
computed from generated features and the reference statistics, its report column header and
whether lower is better. `names`, `evaluate`, `compare` and the report take their choices from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.metrics.quality import (
    KID_NUM_SUBSETS,
    KID_SCALE,
    KID_SUBSET_SIZE,
    fid_from_features,
    kid_subset_values,
    mean_std,
)

if TYPE_CHECKING:  # the registry stays light: `ladabench --help` lists its names without importing torch
    from bench.metrics.reference import ReferenceStats

Features = Callable[[int], np.ndarray]  # sample seed -> generated features (num_gen, D)
Compute = Callable[[Features, "ReferenceStats", int, list[int]], dict[str, Any]]


@dataclass(frozen=True)
class QualityMetric:
    """A metric of generated images against the reference set."""

    kind: str  # the name's prefix: fid -> fid10k_train
    summary: str
    header: str  # the report column header
    lower_is_better: bool
    compute: Compute  # (features by seed, reference, num_gen, seeds) -> value, std, values_per_seed, unit, extras


def _fid(features: Features, ref: ReferenceStats, num_gen: int, seeds: list[int]) -> dict[str, Any]:
    """FID once per sample seed; mean ± std over seeds."""
    per_seed = [fid_from_features(features(seed), ref) for seed in seeds]
    value, std = mean_std(per_seed)
    width = int(ref.features.shape[1])
    # Below the feature width the covariance is singular: FID is then strongly biased by N.
    return {"value": value, "std": std, "values_per_seed": per_seed, "unit": "FID", "feature_dim": width,
            "covariance_full_rank": min(num_gen, ref.count) > width}


def _kid(features: Features, ref: ReferenceStats, num_gen: int, seeds: list[int]) -> dict[str, Any]:
    """KID x10^3: mean ± std over seeded subsets of at most 1,000 images, pooled over sample seeds."""
    subset_size = min(KID_SUBSET_SIZE, num_gen, ref.count)
    subsets = [kid_subset_values(features(seed), ref.features, seed=seed, subset_size=subset_size) * KID_SCALE
               for seed in seeds]
    value, std = mean_std(np.concatenate(subsets))
    return {"value": value, "std": std, "values_per_seed": [float(s.mean()) for s in subsets], "unit": "KIDx1e3",
            "kid_subsets_per_seed": KID_NUM_SUBSETS, "kid_subset_size": subset_size,
            "kid_subset_rule": "numpy global RNG seeded with seed*1000003+subset, restored after"}


QUALITY_METRICS: dict[str, QualityMetric] = {
    "fid": QualityMetric("fid", "Fréchet Inception distance (clean-fid)", "FID", True, _fid),
    "kid": QualityMetric("kid", "kernel Inception distance x10^3 (clean-fid)", "KID x10^3", True, _kid),
}
