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
    """uint8 (B, R, R, 3) -> contiguous float32 (B, 3, R, R) in [-1, 1] on `device`.

    The uint8 batch moves to the device first: 4x fewer bytes to copy, and the float work runs there.
    """
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True).permute(0, 3, 1, 2)
    return x.to(torch.float32, memory_format=torch.contiguous_format).div_(127.5).sub_(1.0)


def measure_loader_img_per_sec(
    images: np.ndarray,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    convert: bool = True,
    max_batches: int = 200,
    max_seconds: float = 2.0,
    seed: int = 0,
) -> float:
    """Images per second of `random_batches` (+ `to_float_tensor` on `device` when `convert`).

    Runs 5 warm-up batches, then stops after `max_batches` or `max_seconds`, whichever comes
    first (at least 10 batches). `convert=False` times the memmap gather alone: the CPU cost a
    GPU training loop pays, since the uint8 batch is converted to float on the GPU.
    """
    it = random_batches(images, batch_size, seed)

    def step() -> int:
        """One batch; returns its size."""
        batch = next(it)
        if convert:
            x = to_float_tensor(batch, device)
            if x.device.type == "cuda":
                torch.cuda.synchronize(x.device)
        return len(batch)

    for _ in range(5):
        step()
    start = time.perf_counter()
    seen = batches = 0
    while batches < max_batches and (batches < 10 or time.perf_counter() - start < max_seconds):
        seen += step()
        batches += 1
    return seen / (time.perf_counter() - start)
