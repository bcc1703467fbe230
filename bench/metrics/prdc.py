"""Precision, recall, density and coverage of generated features against reference features.

Precision/recall: Kynkäänniemi et al. 2019 (k-NN balls around real resp. generated features);
density/coverage: Naeem et al. 2020. Computed by `prdc`, the package released with Naeem et al.,
on the same Inception features as FID/KID. Higher is better for all four.
"""

from __future__ import annotations

import contextlib
import io
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from bench.core.errors import UserError

PRDC_NEAREST_K = 3
PRDC_FIELDS = ("precision", "recall", "density", "coverage")


def prdc_version() -> str:
    """Installed `prdc` version (recorded with every result), or a UserError naming the install."""
    try:
        return version("prdc")
    except PackageNotFoundError:
        raise UserError("precision/recall needs the `prdc` package; install it with `pip install prdc==0.2`") from None


def precision_recall(gen: np.ndarray, ref: np.ndarray, nearest_k: int = PRDC_NEAREST_K) -> dict[str, float]:
    """The four values for generated features `gen` (N, D) against reference features `ref` (M, D)."""
    prdc_version()
    from prdc import compute_prdc

    if min(len(gen), len(ref)) <= nearest_k:
        raise UserError(
            f"precision/recall with k={nearest_k} needs more than {nearest_k} generated and reference images "
            f"(got {len(gen)} and {len(ref)}); raise --num-gen"
        )
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints the set sizes on every call
        values = compute_prdc(real_features=np.asarray(ref), fake_features=np.asarray(gen), nearest_k=nearest_k)
    return {name: float(values[name]) for name in PRDC_FIELDS}
