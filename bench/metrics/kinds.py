"""How each metric kind turns generated and reference features into a value, its spread and its interval.

Each function takes the generated features of every sample seed and the reference statistics and
returns the fields of the metric line it owns: `value`, `std` (over sample seeds or KID subsets),
`values_per_seed`, `ci95` with how it was made, and kind-specific protocol fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.ci import CI_GROUPS, CI_METHOD, CI_SEED, Interval
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
from bench.metrics.reference import ReferenceStats


@dataclass(frozen=True)
class KindInputs:
    """What every kind reads: generated features per sample seed, the reference, and the interval settings."""

    features_by_seed: dict[int, np.ndarray]
    reference: ReferenceStats
    ci_groups: int = CI_GROUPS  # 0: no interval


def _interval_fields(ci: Interval | None, groups: int) -> dict[str, Any]:
    """The interval and the protocol that produced it (none when intervals are switched off)."""
    if ci is None:
        return {"ci95": None, "ci_method": None, "ci_groups": 0}
    return {"ci95": [ci.lo, ci.hi], "ci_se": ci.se, "ci_method": CI_METHOD, "ci_groups": groups, "ci_seed": CI_SEED}


def fid_fields(inputs: KindInputs) -> dict[str, Any]:
    """FID per sample seed (clean-fid), mean and std over seeds, jackknife interval of the mean."""
    ref, feats = inputs.reference, list(inputs.features_by_seed.values())
    per_seed = [fid_from_features(f, ref) for f in feats]
    value, std = mean_std(per_seed)
    ci = fid_interval(feats, ref.mu, ref.sigma, value, inputs.ci_groups) if inputs.ci_groups else None
    width = int(ref.features.shape[1])
    # Below the feature width the covariance is singular: FID is then strongly biased by N.
    return {"value": value, "std": std, "values_per_seed": per_seed, "unit": "FID", "feature_dim": width,
            "covariance_full_rank": min(len(feats[0]), ref.count) > width, **_interval_fields(ci, inputs.ci_groups)}


def kid_fields(inputs: KindInputs) -> dict[str, Any]:
    """KID x10^3: mean and std over seeded subsets pooled over sample seeds, jackknife interval of the mean."""
    ref = inputs.reference
    subset_size = min(KID_SUBSET_SIZE, *(len(f) for f in inputs.features_by_seed.values()), ref.count)
    subsets = [kid_subset_values(f, ref.features, seed=seed, subset_size=subset_size) * KID_SCALE
               for seed, f in inputs.features_by_seed.items()]
    value, std = mean_std(np.concatenate(subsets))
    ci = None
    if inputs.ci_groups:
        ci = kid_interval(list(inputs.features_by_seed.values()), ref.features, value, KID_SCALE, inputs.ci_groups)
    return {"value": value, "std": std, "values_per_seed": [float(s.mean()) for s in subsets], "unit": "KIDx1e3",
            "kid_subsets_per_seed": KID_NUM_SUBSETS, "kid_subset_size": subset_size,
            "kid_subset_rule": "numpy global RNG seeded with seed*1000003+subset, restored after",
            **_interval_fields(ci, inputs.ci_groups)}


def pr_fields(inputs: KindInputs) -> dict[str, Any]:
    """Precision, recall, density, coverage (k=3) per sample seed; `value` is the precision."""
    per_seed = [precision_recall(f, inputs.reference.features, PRDC_NEAREST_K) for f in inputs.features_by_seed.values()]
    components = {}
    for name in PRDC_FIELDS:
        mean, std = mean_std([p[name] for p in per_seed])
        components[name] = {"value": mean, "std": std, "values_per_seed": [p[name] for p in per_seed]}
    main = components["precision"]
    return {"value": main["value"], "std": main["std"], "values_per_seed": main["values_per_seed"], "unit": "fraction",
            "components": components, "nearest_k": PRDC_NEAREST_K, "prdc_version": prdc_version(),
            **_interval_fields(None, 0)}


KIND_FIELDS: dict[str, Callable[[KindInputs], dict[str, Any]]] = {"fid": fid_fields, "kid": kid_fields, "pr": pr_fields}
