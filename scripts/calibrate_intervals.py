"""Are the FID/KID standard errors right? Compare them with the spread over independent generated sets.

Synthetic Gaussian features (reference and "generated" distributions differ in mean and scale) let us
draw many independent generated sets cheaply. For each (feature width D, set size N) the script prints
the standard deviation of FID and KID over 40 independent sets and, for three single sets, the
jackknife SE the suite reports and (FID only) the bootstrap SE it does not use:

    OMP_NUM_THREADS=1 python scripts/calibrate_intervals.py
"""

from __future__ import annotations

from functools import partial

import numpy as np

from bench.metrics.jackknife import frechet_of_rows, jackknife_groups, jackknife_se, mmd2_leave_out

SETTINGS = ((64, 500), (256, 500), (256, 100), (512, 200), (2048, 32))  # (feature width D, generated set size N)
INDEPENDENT_SETS, TRIALS, GROUPS, RESAMPLES = 40, 3, 25, 100


def _draw(rng: np.random.Generator, n: int, mixing: np.ndarray) -> np.ndarray:
    """One generated set: N rows from a shifted, wider Gaussian than the reference, mixed alike."""
    return rng.normal(0.1, 1.1, size=(n, len(mixing))) @ mixing


def main() -> None:
    """Print one line per setting: spread over independent sets vs the estimated SEs."""
    rng = np.random.default_rng(0)
    for dim, n in SETTINGS:
        mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
        ref = rng.normal(size=(2000, dim)) @ mixing
        mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
        ref_kid = ref[:n]
        draw = partial(_draw, rng, n, mixing)

        every = np.arange(n)
        fids = [frechet_of_rows(draw(), mu, sigma, [every])[0] for _ in range(INDEPENDENT_SETS)]
        kids = [mmd2_leave_out(draw(), ref_kid, [np.array([], dtype=int)])[0] for _ in range(INDEPENDENT_SETS)]
        jack_fid, jack_kid, boot_fid = [], [], []
        for trial in range(TRIALS):
            gen = draw()
            groups = jackknife_groups(n, GROUPS, trial)
            kept = [np.setdiff1d(every, g) for g in groups]
            jack_fid.append(jackknife_se(frechet_of_rows(gen, mu, sigma, kept)))
            jack_kid.append(jackknife_se(mmd2_leave_out(gen, ref_kid, groups)))
            resampled = list(np.random.default_rng(trial).integers(0, n, size=(RESAMPLES, n)))
            boot_fid.append(float(np.std(frechet_of_rows(gen, mu, sigma, resampled), ddof=1)))
        print(
            f"D={dim} N={n}: FID std over {INDEPENDENT_SETS} sets {np.std(fids, ddof=1):.3f}; "
            f"jackknife SE {', '.join(f'{v:.3f}' for v in jack_fid)}; "
            f"bootstrap SE {', '.join(f'{v:.3f}' for v in boot_fid)} | "
            f"KID std {np.std(kids, ddof=1):.5f}; jackknife SE {', '.join(f'{v:.5f}' for v in jack_kid)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
