"""Run torch on one intra-op thread for a while: tiny models gain nothing from two, and shared cores hurt."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Set torch's intra-op threads to 1 inside the block (as subprocesses with OMP_NUM_THREADS=1)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)
