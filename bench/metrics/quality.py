"""FID and KID from features, computed by clean-fid's own functions (seeded where it uses randomness)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bench.metrics.reference import ReferenceStats

KID_SUBSET_SIZE = 1000
KID_NUM_SUBSETS = 100
KID_SCALE = 1e3  # KID is reported x 10^3, as in the literature


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features, in float64 as clean-fid computes them."""
    feats = features.astype(np.float64)
    return np.mean(feats, axis=0), np.cov(feats, rowvar=False)


def fid_from_features(gen_features: np.ndarray, reference: ReferenceStats) -> float:
    """FID between generated features and reference statistics (clean-fid's `frechet_distance`)."""
    from cleanfid.fid import (
        frechet_distance,  # start-up: clean-fid imports torch; the metric registry stays light
    )

    mu, sigma = statistics(gen_features)
    with warnings.catch_warnings():
        # clean-fid passes sqrtm's `disp` argument, deprecated in scipy 1.17 (hence scipy<1.18).
        warnings.filterwarnings("ignore", message=".*disp.*", category=DeprecationWarning)
        # With fewer images than feature dimensions the covariances are singular; scipy says so on
        # every call. Results record N and the feature width, so the warning adds nothing.
        warnings.filterwarnings("ignore", message=".*singular.*")
        return float(frechet_distance(mu, sigma, reference.mu, reference.sigma))


def kid_subset_values(
    gen_features: np.ndarray, ref_features: np.ndarray, seed: int = 0,
    num_subsets: int = KID_NUM_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
) -> np.ndarray:
    """KID (unscaled) of each of `num_subsets` random subsets, via clean-fid's `kernel_distance`.

    clean-fid draws subsets from numpy's global RNG and returns only their mean; calling it once per
    subset under a seeded, then restored, global state gives repeatable per-subset values (so a std)
    without changing its arithmetic.
    """

    from cleanfid.fid import kernel_distance  # start-up: as above

    saved = np.random.get_state()
    try:
        values = []
        for subset in range(num_subsets):
            np.random.seed((seed * 1_000_003 + subset) % 2**32)
            values.append(kernel_distance(ref_features, gen_features, num_subsets=1, max_subset_size=subset_size))
    finally:
        np.random.set_state(saved)
    return np.asarray(values, dtype=np.float64)


def mean_std(values: list[float] | np.ndarray) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)
