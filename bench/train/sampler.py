"""Batches of real images from a prepared dataset: a seeded permutation per epoch, drop_last, resumable."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class EpochSampler:
    """Draws index batches from a fresh permutation each epoch; its whole state is (epoch, cursor).

    Epoch e's order is `default_rng([seed, e]).permutation(count)`, so the order never depends on
    how many batches came before: restoring (epoch, cursor) restores the data order exactly.
    A batch never spans two epochs (drop_last): the tail of an epoch shorter than a batch is skipped.
    """

    def __init__(self, count: int, batch_size: int, seed: int, epoch: int = 0, cursor: int = 0):
        """Sample `batch_size` of `count` indices at a time, starting at (epoch, cursor)."""
        if batch_size > count:
            raise ValueError(f"batch size {batch_size} is larger than the dataset ({count} images)")
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self.epoch, self.cursor = epoch, cursor
        self._order = self._permutation(epoch)

    def _permutation(self, epoch: int) -> np.ndarray:
        """The image order of one epoch."""
        return np.random.default_rng([self.seed, epoch]).permutation(self.count)

    def next_indices(self, size: int | None = None) -> np.ndarray:
        """The next `size` (default: batch_size) indices; a smaller size is the budget's last batch."""
        size = self.batch_size if size is None else size
        if self.cursor + self.batch_size > self.count:  # drop_last: start the next epoch
            self.epoch, self.cursor = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        indices = self._order[self.cursor : self.cursor + size]
        self.cursor += size
        return indices

    def state(self) -> dict[str, int]:
        """What a snapshot stores to continue this exact order."""
        return {"epoch": self.epoch, "cursor": self.cursor}


def to_model_range(images_uint8: np.ndarray, device: torch.device) -> Tensor:
    """uint8 NHWC images -> float32 NCHW in [-1, 1] on `device` (converted there: 4x less to copy)."""
    batch = torch.from_numpy(np.ascontiguousarray(images_uint8)).to(device, non_blocking=True)
    return batch.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def fetch_batch(images: np.ndarray, indices: np.ndarray, device: torch.device) -> Tensor:
    """Read the given images from the (memory-mapped) array in sorted order, returned in `indices` order."""
    order = np.argsort(indices, kind="stable")
    gathered = np.empty((len(indices), *images.shape[1:]), dtype=images.dtype)
    gathered[order] = images[indices[order]]  # sorted reads are sequential on a memmap
    return to_model_range(gathered, device)
