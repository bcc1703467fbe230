"""The data layer: named datasets decoded once into a memory-mapped uint8 cache.

`load_dataset(name)` returns a `PreparedDataset` whose `images` are uint8 RGB (N, R, R, 3) and
whose `content_hash` (sha256 over source files + preprocessing) keys downstream caches.
"""

from __future__ import annotations

from bench.data.prepare import load_source
from bench.data.registry import make_source
from bench.data.types import PreparedDataset

DEFAULT_DATASET = "fashion10k"

__all__ = ["DEFAULT_DATASET", "PreparedDataset", "load_dataset"]


def load_dataset(name: str, data_root: str | None = None, strict: bool = False) -> PreparedDataset:
    """Prepare `name` on first use (rich progress), then open it memory-mapped from the cache.

    Raises UserError for an unknown name (listing known ones) and MissingDataError when its files
    are missing (saying where it looked and how to obtain them). `strict` makes an unreadable
    image file an error instead of a counted, skipped and reported one.
    """
    return load_source(make_source(name, data_root), strict=strict)
