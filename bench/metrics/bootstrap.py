"""95% confidence intervals for FID and KID: a seeded bootstrap over the generated samples.

The reference set stays fixed; each resample draws N generated feature rows with replacement and
recomputes the statistic. The interval is the normal approximation `value +- 1.96 * SE`, SE being the
standard deviation of the resampled values (Efron & Tibshirani 1993, ch. 6 and 13). It describes how
much the number moves with another draw of N generated images; it does not remove FID's bias in N
(Chong & Forsyth 2020), which is why every value carries N and values compare only at equal N.

The resampled statistics use closed forms that avoid a 2048x2048 matrix square root per resample:
tr sqrt(S_g S_r) equals the sum of the singular values of (X_g - mu_g) S_r^(1/2) / sqrt(N - 1), so
one symmetric eigen-decomposition of S_r serves all resamples; KID's subset sums come from the kernel
matrices computed once, weighted by how often each row was drawn.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.metrics.ci import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Interval, interval, pooled_se


def resample_rows(count: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, count) row indices drawn with replacement by numpy's default_rng(seed)."""
    return np.random.default_rng(seed).integers(0, count, size=(resamples, count))


def sqrt_psd(sigma: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a covariance (eigenvalues below 0 from rounding are set to 0)."""
    values, vectors = torch.linalg.eigh((sigma + sigma.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def _weighted_terms(gram: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For rows drawn `counts` times: the count-weighted centred Gram of the drawn rows and |mean|^2.

    The nonzero eigenvalues of this (unique rows)^2 matrix equal those of the resampled rows' centred
    Gram (and so of their scatter matrix), at a fraction of the size of an N x N or D x D problem.
    """
    n = counts.sum()
    projected = gram @ counts / n  # row . mean of the resample
    mean_sq = counts @ projected / n
    centred = gram - projected[:, None] - projected[None, :] + mean_sq
    root = counts.sqrt()
    return root[:, None] * centred * root[None, :], mean_sq


def frechet_resampled(
    gen: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray, rows: np.ndarray, device: str = "cpu"
) -> np.ndarray:
    """FID of each resample `rows[b]` of the generated features against fixed reference statistics (float64)."""
    dev = torch.device(device)
    x = torch.as_tensor(gen, dtype=torch.float64, device=dev)
    mu_r = torch.as_tensor(ref_mu, dtype=torch.float64, device=dev)
    sigma_r = torch.as_tensor(ref_sigma, dtype=torch.float64, device=dev)
    y = x @ sqrt_psd(sigma_r)
    n = x.shape[0]
    constant = mu_r @ mu_r + torch.trace(sigma_r)
    x_dot_mu = x @ mu_r
    small = n <= x.shape[1]  # resamples have at most N distinct rows: work with N x N Gram matrices
    gram_x, gram_y = (x @ x.T, y @ y.T) if small else (None, None)
    values = []
    for picked in torch.as_tensor(rows, device=dev):
        unique, counts = torch.unique(picked, return_counts=True)
        counts = counts.to(torch.float64)
        if small:
            gy, _ = _weighted_terms(gram_y[unique][:, unique], counts)
            gx, mean_sq = _weighted_terms(gram_x[unique][:, unique], counts)
        else:  # more rows than dimensions: the D x D scatter matrices are smaller
            xu, yu = x[unique], y[unique]
            wx, wy = xu * counts.sqrt()[:, None], yu * counts.sqrt()[:, None]
            mx, my = counts @ xu / n, counts @ yu / n
            gx, gy = wx.T @ wx - n * torch.outer(mx, mx), wy.T @ wy - n * torch.outer(my, my)
            mean_sq = mx @ mx
        trace_sqrt = torch.linalg.eigvalsh(gy / (n - 1)).clamp_min(0).sqrt().sum()
        mean_term = mean_sq - 2 * (counts @ x_dot_mu[unique]) / n
        values.append(float(mean_term + constant + torch.trace(gx) / (n - 1) - 2 * trace_sqrt))
    return np.asarray(values)


def cubic_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """KID's polynomial kernel k(x, y) = (x.y / d + 1)^3."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def kid_subsets(num_gen: int, num_ref: int, subset_size: int, num_subsets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(gen positions, ref rows), each (num_subsets, subset_size), drawn without replacement per subset."""
    rng = np.random.default_rng(seed)
    gen = np.stack([rng.choice(num_gen, subset_size, replace=False) for _ in range(num_subsets)])
    ref = np.stack([rng.choice(num_ref, subset_size, replace=False) for _ in range(num_subsets)])
    return gen, ref


def kid_resampled(
    gen: np.ndarray, ref: np.ndarray, rows: np.ndarray, subset_size: int, num_subsets: int,
    seed: int = BOOTSTRAP_SEED, device: str = "cpu",
) -> np.ndarray:
    """KID (unscaled mean unbiased MMD^2 over subsets) of each resample `rows[b]` of the generated features."""
    dev = torch.device(device)
    x = torch.as_tensor(gen, dtype=torch.float64, device=dev)
    r = torch.as_tensor(ref, dtype=torch.float64, device=dev)
    k_gg, k_gr, k_rr = cubic_kernel(x, x), cubic_kernel(x, r), cubic_kernel(r, r)
    positions, ref_rows = kid_subsets(len(gen), len(ref), subset_size, num_subsets, seed)
    m = subset_size
    ref_counts = torch.zeros(num_subsets, len(ref), dtype=torch.float64, device=dev)
    ref_counts.scatter_(1, torch.as_tensor(ref_rows, device=dev), 1.0)
    # Off-diagonal reference sums do not change with the generated resample.
    rr = ((ref_counts @ k_rr) * ref_counts).sum(1) - ref_counts @ torch.diagonal(k_rr)
    values = []
    for picked in torch.as_tensor(rows, device=dev):
        drawn = picked[torch.as_tensor(positions, device=dev)]  # (subsets, m) original row numbers
        counts = torch.zeros(num_subsets, len(gen), dtype=torch.float64, device=dev)
        counts.scatter_add_(1, drawn, torch.ones_like(drawn, dtype=torch.float64))
        # sum over positions p != q of k(x_p, x_q): repeated rows at different positions do count.
        gg = ((counts @ k_gg) * counts).sum(1) - counts @ torch.diagonal(k_gg)
        gr = ((counts @ k_gr) * ref_counts).sum(1)
        mmd = (gg + rr) / (m * (m - 1)) - 2 * gr / m**2
        values.append(float(mmd.mean()))
    return np.asarray(values)


def fid_interval(
    per_seed_features: list[np.ndarray], ref_mu: np.ndarray, ref_sigma: np.ndarray, value: float,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, device: str = "cpu",
) -> Interval:
    """95% interval of a (seed-averaged) FID: per-seed bootstrap SEs pooled for the mean."""
    ses = []
    for offset, feats in enumerate(per_seed_features):
        rows = resample_rows(len(feats), resamples, seed + offset)
        ses.append(float(np.std(frechet_resampled(feats, ref_mu, ref_sigma, rows, device), ddof=1)))
    return interval(value, pooled_se(ses))


def kid_interval(
    per_seed_features: list[np.ndarray], ref: np.ndarray, value: float, subset_size: int, num_subsets: int,
    scale: float, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, device: str = "cpu",
) -> Interval:
    """95% interval of a (seed-averaged, `scale`d) KID: per-seed bootstrap SEs pooled for the mean."""
    ses = []
    for offset, feats in enumerate(per_seed_features):
        rows = resample_rows(len(feats), resamples, seed + offset)
        resampled = kid_resampled(feats, ref, rows, subset_size, num_subsets, seed + offset, device) * scale
        ses.append(float(np.std(resampled, ddof=1)))
    return interval(value, pooled_se(ses))
