"""95% intervals for FID and KID: a delete-a-group jackknife over the generated samples (seeded groups).

The generated features of one sample seed are split into G seeded groups; replicate g recomputes the
statistic without group g, the reference set fixed. The standard error is the jackknife's
`sqrt((G-1)/G * sum_g (theta_g - mean)^2)` (Efron & Tibshirani 1993, ch. 11) and the interval the
normal approximation `value +- 1.96 * SE`. It describes how much the number moves with another draw
of N generated images; it does not remove FID's bias in N (Chong & Forsyth 2020), which is why every
value carries N and values compare only at equal N.

Why not the bootstrap: resampling with replacement duplicates rows, and FID's N-dependent bias then
varies from resample to resample; on synthetic Gaussian features (scripts/calibrate_intervals.py)
the bootstrap SE was 1.2x the spread over independent sets at 8 rows per dimension and 3-4x at 0.5-2,
the jackknife SE 0.9-1.5x.

The replicates use closed forms that avoid a matrix square root per replicate: tr sqrt(S_g S_r) is
the sum of the singular values of (X_g - mu_g) S_r^(1/2) / sqrt(n - 1), so one symmetric
eigen-decomposition of S_r serves every replicate; KID replicates are the unbiased MMD^2 of all kept
rows against the reference, from kernel row sums computed once.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.ci import CI_GROUPS, CI_SEED, Interval, interval, pooled_se


def jackknife_groups(count: int, groups: int, seed: int) -> list[np.ndarray]:
    """min(groups, count) disjoint row sets of count // groups rows each, from numpy's default_rng(seed).permutation.

    Equal sizes matter: FID's bias moves with the number of rows kept, so replicates that kept
    different numbers of rows would differ by that alone. The count % groups remaining rows stay in
    every replicate.
    """
    groups = min(groups, count)
    size = count // groups
    return list(np.random.default_rng(seed).permutation(count)[: groups * size].reshape(groups, size))


def jackknife_se(replicates: np.ndarray) -> float:
    """Delete-a-group jackknife standard error of G leave-one-group-out values."""
    groups = len(replicates)
    return float(np.sqrt((groups - 1) / groups * np.sum((replicates - replicates.mean()) ** 2)))


def sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance (eigenvalues below 0 from rounding are set to 0)."""
    values, vectors = np.linalg.eigh((sigma + sigma.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _weighted_terms(gram: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, float]:
    """For rows taken `counts` times: the count-weighted centred Gram matrix and |mean|^2.

    Its nonzero eigenvalues equal those of the taken rows' centred scatter matrix, at the size of
    the number of distinct rows instead of the feature width.
    """
    n = counts.sum()
    projected = gram @ counts / n  # row . mean of the taken rows
    mean_sq = float(counts @ projected / n)
    centred = gram - projected[:, None] - projected[None, :] + mean_sq
    root = np.sqrt(counts)
    return root[:, None] * centred * root[None, :], mean_sq


def frechet_of_rows(gen: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
    """FID of the generated rows `rows[i]` (repeats allowed) against fixed reference statistics, in float64."""
    x = np.asarray(gen, dtype=np.float64)
    mu_r, sigma_r = np.asarray(ref_mu, dtype=np.float64), np.asarray(ref_sigma, dtype=np.float64)
    y = x @ sqrt_psd(sigma_r)
    constant = mu_r @ mu_r + np.trace(sigma_r)
    x_dot_mu = x @ mu_r
    small = x.shape[0] <= x.shape[1]  # at most N distinct rows: work with N x N Gram matrices
    gram_x, gram_y = (x @ x.T, y @ y.T) if small else (None, None)
    values = []
    for taken in rows:
        unique, counts = np.unique(np.asarray(taken), return_counts=True)
        counts = counts.astype(np.float64)
        n = counts.sum()
        if small:
            gy, _ = _weighted_terms(gram_y[np.ix_(unique, unique)], counts)
            gx, mean_sq = _weighted_terms(gram_x[np.ix_(unique, unique)], counts)
        else:  # more rows than dimensions: the D x D scatter matrices are smaller
            wx, wy = x[unique] * np.sqrt(counts)[:, None], y[unique] * np.sqrt(counts)[:, None]
            mx, my = counts @ x[unique] / n, counts @ y[unique] / n
            gx, gy = wx.T @ wx - n * np.outer(mx, mx), wy.T @ wy - n * np.outer(my, my)
            mean_sq = float(mx @ mx)
        trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(gy / (n - 1)), 0, None)).sum()
        mean_term = mean_sq - 2 * (counts @ x_dot_mu[unique]) / n
        values.append(float(mean_term + constant + np.trace(gx) / (n - 1) - 2 * trace_sqrt))
    return np.asarray(values)


def cubic_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KID's polynomial kernel k(x, y) = (x.y / d + 1)^3."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def mmd2_leave_out(gen: np.ndarray, ref: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Unbiased MMD^2 (cubic kernel) of all generated rows except group g against all reference rows, per g."""
    x, r = np.asarray(gen, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    k_gg = cubic_kernel(x, x)
    off_gg = k_gg.sum() - np.trace(k_gg)
    row_off = k_gg.sum(1) - np.diagonal(k_gg)  # sum over j != i of k(x_i, x_j)
    cross = cubic_kernel(x, r).sum(1)
    k_rr = cubic_kernel(r, r)
    m = len(r)
    rr_term = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    values = []
    for left in groups:
        n = len(x) - len(left)
        within = k_gg[np.ix_(left, left)]
        # Pairs touching the group: twice its rows' off-diagonal sums, minus the pairs inside it counted twice.
        off = off_gg - 2 * row_off[left].sum() + (within.sum() - np.trace(within))
        values.append(float(off / (n * (n - 1)) + rr_term - 2 * (cross.sum() - cross[left].sum()) / (n * m)))
    return np.asarray(values)


def fid_interval(
    per_seed_features: list[np.ndarray],
    ref_mu: np.ndarray,
    ref_sigma: np.ndarray,
    value: float,
    groups: int = CI_GROUPS,
    seed: int = CI_SEED,
) -> Interval:
    """95% interval of a (seed-averaged) FID: per-seed jackknife SEs pooled for the mean."""
    ses = []
    for offset, feats in enumerate(per_seed_features):
        parts = jackknife_groups(len(feats), groups, seed + offset)
        kept = [np.setdiff1d(np.arange(len(feats)), part) for part in parts]
        ses.append(jackknife_se(frechet_of_rows(feats, ref_mu, ref_sigma, kept)))
    return interval(value, pooled_se(ses))


def kid_interval(
    per_seed_features: list[np.ndarray],
    ref: np.ndarray,
    value: float,
    scale: float,
    groups: int = CI_GROUPS,
    seed: int = CI_SEED,
) -> Interval:
    """95% interval of a (seed-averaged, `scale`d) KID from the jackknife SE of the all-rows unbiased MMD^2.

    The reported KID averages subsets of at most 1,000 rows; its spread over generated sets is that of
    the all-rows estimator it approximates (the subsets only add their own, smaller, noise).
    """
    ses = []
    for offset, feats in enumerate(per_seed_features):
        parts = jackknife_groups(len(feats), groups, seed + offset)
        ses.append(jackknife_se(mmd2_leave_out(feats, ref, parts) * scale))
    return interval(value, pooled_se(ses))
