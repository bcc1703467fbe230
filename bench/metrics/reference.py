"""Reference features and statistics of a dataset, cached under the suite's cache folder.

The cache key is everything that changes the numbers: the dataset's content hash (source files and
preprocessing), the split, how many images and which ones, clean-fid's resize mode and the
feature network's weights hash. A cache file is written to a temporary name and then renamed, so an
interrupted run never leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape

from bench.core.errors import WriteError
from bench.core.files import atomic_write_bytes
from bench.core.paths import cache_root
from bench.data.types import PreparedDataset
from bench.metrics.features import (
    RESIZE_MODE,
    FeatureExtractor,
    console,
    image_features,
    resize_description,
)
from bench.metrics.quality import statistics

CACHE_KIND = "fid-features"
SELECTION_SEED = 0
SELECTION_RULE = f"sorted first N of numpy default_rng({SELECTION_SEED}).permutation(count)"
CACHE_FORMAT = 1


@dataclass
class ReferenceStats:
    """Features of N reference images with their mean and covariance, plus what they were made from."""

    features: np.ndarray  # (N, D) float32
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    meta: dict[str, Any] = field(default_factory=dict)
    cache_path: Path | None = None  # None: computed but not cached (the cache was not writable)
    cache_hit: bool = False

    @property
    def cache_state(self) -> str:
        """Where the features came from, for logs and tables."""
        if self.cache_hit:
            return "reused cached"
        return "computed and cached" if self.cache_path is not None else "computed, not cached"

    @property
    def count(self) -> int:
        """How many reference images the statistics cover."""
        return int(self.features.shape[0])


def reference_indices(count: int, num_ref: int) -> np.ndarray:
    """Which dataset rows form an N-image reference set: a fixed seeded subset (all when N >= count)."""
    if num_ref >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(SELECTION_SEED).permutation(count)[:num_ref])


def reference_meta(dataset: PreparedDataset, split: str, num_ref: int, extractor: FeatureExtractor) -> dict[str, Any]:
    """Every input that determines the reference features (hashed into the cache key)."""
    return {
        "format": CACHE_FORMAT,
        "data": dataset.name,
        "content_hash": dataset.content_hash,
        "resolution": int(dataset.resolution),
        "split": split,
        "num_ref": int(num_ref),
        "selection": SELECTION_RULE,
        "resize_mode": RESIZE_MODE,
        "resize": resize_description(extractor.input_size),
        "features": extractor.name,
        "weights_sha256": extractor.weights_sha256,
    }


def cache_path_for(meta: dict[str, Any]) -> Path:
    """Cache file for a reference set: readable prefix plus a hash of the full key."""
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(meta["data"]))[:60]
    return cache_root() / CACHE_KIND / f"{stem}-{meta['split']}-n{meta['num_ref']}-{meta['features']}-{key}.npz"


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save arrays as .npz atomically (a concurrent reader never sees half a cache file)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _read(path: Path, meta: dict[str, Any]) -> ReferenceStats | None:
    """Load a cache file if it is readable and its stored key equals `meta`; None otherwise."""
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = json.loads(str(data["meta"]))
            if stored != meta:
                return None
            return ReferenceStats(
                features=data["features"],
                mu=data["mu"],
                sigma=data["sigma"],
                meta=stored,
                cache_path=path,
                cache_hit=True,
            )
    except (OSError, ValueError, KeyError):
        return None


def load_or_compute_reference(
    dataset: PreparedDataset,
    num_ref: int,
    extractor: FeatureExtractor,
    device: str = "cpu",
    batch_size: int = 50,
    split: str = "train",
    show_progress: bool = True,
) -> ReferenceStats:
    """Reference features of `num_ref` images of `dataset` (all if fewer): from the cache, else computed and cached."""
    num_ref = min(int(num_ref), int(dataset.count))
    meta = reference_meta(dataset, split, num_ref, extractor)
    path = cache_path_for(meta)
    if path.is_file():
        cached = _read(path, meta)
        if cached is not None:
            return cached
    rows = reference_indices(int(dataset.count), num_ref)
    images = np.asarray(dataset.images[rows])
    features = image_features(
        images,
        extractor,
        device=device,
        batch_size=batch_size,
        description=f"reference features {dataset.name} ({num_ref})",
        show_progress=show_progress,
    )
    mu, sigma = statistics(features)
    stats = ReferenceStats(features=features, mu=mu, sigma=sigma, meta=meta, cache_path=path, cache_hit=False)
    try:
        _write_npz(
            path, {"features": features, "mu": mu, "sigma": sigma, "meta": np.array(json.dumps(meta, sort_keys=True))}
        )
    except WriteError as exc:  # a read-only or full cache: the numbers are right, only not kept
        reason = getattr(exc.__cause__, "strerror", None) or "not writable"
        console.print(
            f"[yellow]warning:[/] reference features not cached: cannot write in {escape(str(path.parent))} "
            f"({reason}); set $LADABENCH_CACHE to a writable folder to keep them",
            soft_wrap=True,
        )
        stats.cache_path = None
    return stats
