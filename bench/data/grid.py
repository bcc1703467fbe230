"""Image grids as PNG: a tiling of dataset samples (a look at what preparation produced), and the one PNG writer."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from bench.core.files import atomic_write_bytes


def sample_grid(images: np.ndarray, count: int = 64, seed: int = 0, pad_px: int = 2) -> np.ndarray:
    """A square tiling (uint8 H x W x 3) of `count` images chosen with a fixed seed, sorted by index."""
    n = min(count, len(images))
    idx = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    r = images.shape[1]
    cell = r + pad_px
    grid = np.full((rows * cell + pad_px, cols * cell + pad_px, 3), 255, dtype=np.uint8)
    for k, i in enumerate(idx):
        top, left = pad_px + (k // cols) * cell, pad_px + (k % cols) * cell
        grid[top : top + r, left : left + r] = images[i]
    return grid


def save_grid(path: Path, grid: np.ndarray, scale: int = 1) -> Path:
    """Write a uint8 H x W x 3 grid as PNG (atomically), enlarged `scale` times (nearest) so small images show."""
    picture = Image.fromarray(grid)
    if scale != 1:
        picture = picture.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return path
