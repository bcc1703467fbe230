"""The quality-metric registry: one entry per metric kind (FID, KID, PR), DiT-style a plain dict.

An entry declares its name grammar (`<kind><N>[k]_<split>[-<features>]`, see `names`), how it is
computed from generated features and the reference statistics, its report column header and
whether lower is better. `names`, `evaluate`, `compare` and the report take their choices from here.
Each compute returns the fields of its metric line: `value`, `std`, `values_per_seed`, `unit`, the
95% interval (`ci95`, `ci_se`, `ci_method`, `ci_groups`, `ci_seed`; see `jackknife`) and any protocol
fields worth recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.metrics.ci import CI_METHOD, CI_SEED, Interval
from bench.metrics.jackknife import fid_interval, kid_interval
from bench.metrics.prdc import PRDC_FIELDS, PRDC_NEAREST_K, prdc_version, precision_recall
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
Compute = Callable[[Features, "ReferenceStats", int, list[int], int], dict[str, Any]]


@dataclass(frozen=True)
class QualityMetric:
    """A metric of generated images against the reference set."""

    kind: str  # the name's prefix: fid -> fid10k_train
    summary: str
    header: str  # the report column header
    lower_is_better: bool
    compute: Compute  # (features by seed, reference, num_gen, seeds, interval groups) -> the line's fields


def _interval_fields(ci: Interval | None, groups: int) -> dict[str, Any]:
    """The interval and the protocol that produced it (none when intervals are switched off)."""
    if ci is None:
        return {"ci95": None, "ci_method": None, "ci_groups": 0}
    return {"ci95": [ci.lo, ci.hi], "ci_se": ci.se, "ci_method": CI_METHOD, "ci_groups": groups, "ci_seed": CI_SEED}


def _fid(features: Features, ref: ReferenceStats, num_gen: int, seeds: list[int], ci_groups: int) -> dict[str, Any]:
    """FID once per sample seed (clean-fid); mean ± std over seeds; jackknife interval of the mean."""
    feats = [features(seed) for seed in seeds]
    per_seed = [fid_from_features(f, ref) for f in feats]
    value, std = mean_std(per_seed)
    ci = fid_interval(feats, ref.mu, ref.sigma, value, ci_groups) if ci_groups else None
    width = int(ref.features.shape[1])
    # Below the feature width the covariance is singular: FID is then strongly biased by N.
    return {
        "value": value,
        "std": std,
        "values_per_seed": per_seed,
        "unit": "FID",
        "feature_dim": width,
        "covariance_full_rank": min(num_gen, ref.count) > width,
        **_interval_fields(ci, min(ci_groups, num_gen)),  # the jackknife uses at most one group per image
    }


def _kid(features: Features, ref: ReferenceStats, num_gen: int, seeds: list[int], ci_groups: int) -> dict[str, Any]:
    """KID x10^3: mean ± std over seeded subsets of at most 1,000 images, pooled over seeds; jackknife interval."""
    subset_size = min(KID_SUBSET_SIZE, num_gen, ref.count)
    subsets = [
        kid_subset_values(features(seed), ref.features, seed=seed, subset_size=subset_size) * KID_SCALE
        for seed in seeds
    ]
    value, std = mean_std(np.concatenate(subsets))
    ci = kid_interval([features(s) for s in seeds], ref.features, value, KID_SCALE, ci_groups) if ci_groups else None
    return {
        "value": value,
        "std": std,
        "values_per_seed": [float(s.mean()) for s in subsets],
        "unit": "KIDx1e3",
        "kid_subsets_per_seed": KID_NUM_SUBSETS,
        "kid_subset_size": subset_size,
        "kid_subset_rule": "numpy global RNG seeded with seed*1000003+subset, restored after",
        **_interval_fields(ci, min(ci_groups, num_gen)),  # the jackknife uses at most one group per image
    }


def _pr(features: Features, ref: ReferenceStats, num_gen: int, seeds: list[int], ci_groups: int) -> dict[str, Any]:
    """Precision, recall, density, coverage (k=3) per sample seed, mean ± std over seeds; `value` is the precision."""
    per_seed = [precision_recall(features(seed), ref.features, PRDC_NEAREST_K) for seed in seeds]
    components = {}
    for name in PRDC_FIELDS:
        mean, std = mean_std([p[name] for p in per_seed])
        components[name] = {"value": mean, "std": std, "values_per_seed": [p[name] for p in per_seed]}
    main = components["precision"]
    # No interval: k-NN radii change when points are left out or repeated (not calibrated here).
    return {
        "value": main["value"],
        "std": main["std"],
        "values_per_seed": main["values_per_seed"],
        "unit": "fraction",
        "components": components,
        "nearest_k": PRDC_NEAREST_K,
        "prdc_version": prdc_version(),
        **_interval_fields(None, 0),
    }


QUALITY_METRICS: dict[str, QualityMetric] = {
    "fid": QualityMetric("fid", "Fréchet Inception distance (clean-fid)", "FID", True, _fid),
    "kid": QualityMetric("kid", "kernel Inception distance x10^3 (clean-fid)", "KID x10^3", True, _kid),
    "pr": QualityMetric("pr", "precision, recall, density, coverage, k=3 (prdc)", "precision (k=3)", False, _pr),
}
