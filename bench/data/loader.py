"""Training-side reading of a prepared dataset: random uint8 batches from the memmap -> float tensors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch


def random_batches(images: np.ndarray, batch_size: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Endless uint8 batches (B, R, R, 3) drawn uniformly with replacement across batches.

    Indices inside a batch are sorted so the memmap is read front to back (page-cache friendly);
    order inside a batch does not matter to a GAN step.
    """
    rng = np.random.default_rng(seed)
    n = len(images)
    while True:
        idx = np.sort(rng.choice(n, size=min(batch_size, n), replace=False))
        yield images[idx]


def to_float_tensor(batch: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (B, R, R, 3) -> float32 (B, 3, R, R) in [-1, 1] on `device`."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def measure_loader_img_per_sec(
    images: np.ndarray, batch_size: int = 128, batches: int = 200, warmup_batches: int = 5, seed: int = 0
) -> float:
    """Images per second of `random_batches` + `to_float_tensor` on CPU, after a short warm-up."""
    it = random_batches(images, batch_size, seed)
    for _ in range(warmup_batches):
        to_float_tensor(next(it))
    start = time.perf_counter()
    seen = 0
    for _ in range(batches):
        seen += len(to_float_tensor(next(it)))
    return seen / (time.perf_counter() - start)
