"""Seeds and determinism: one independent seed per random stream and rank, and deterministic kernels on request."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch

# derived_seed streams: one independent seed each
DATA_ORDER_STREAM = 0  # the sampler's epoch permutations (global: one data order for every rank)
GENERATOR_STREAMS = {"z": 1, "augment": 2}  # the per-rank torch generators of latents and augmentation
GRID_STREAM = 3  # the fixed latents of a run's sample grids
EMA_INIT_STREAM = 4  # the fresh G that G_ema starts from (--ema-start fresh)


def derived_seed(seed: int, stream: int, *more: int) -> int:
    """An independent 63-bit seed per random stream (data order, z, augmentation, sample grid).

    `more` distinguishes further streams: a rank above 0 (its own z and augmentation draws; rank 0
    keeps the single-process seeds) and, after a resume under another process count, images seen.
    """
    entropy = [seed, stream, *more]
    return int(np.random.SeedSequence(entropy).generate_state(2, np.uint64)[0] >> np.uint64(1))


def rank_seed(seed: int, stream: int, rank: int, *more: int) -> int:
    """The seed of a per-rank stream: rank 0's is the single-process one, so 1 process == no torchrun."""
    return derived_seed(seed, stream, *more) if rank == 0 and not more else derived_seed(seed, stream, rank, *more)


@contextlib.contextmanager
def determinism(deterministic: bool, device: torch.device):
    """Deterministic kernels inside the block when asked (bitwise-repeatable runs); restored after.

    Without it cuDNN may pick the fastest (non-deterministic) kernels on GPU.
    """
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    if deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if saved[0] != deterministic:  # the call imports torch._inductor (seconds): only when it changes
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic and device.type == "cuda"
    try:
        yield
    finally:
        if torch.are_deterministic_algorithms_enabled() != saved[0]:
            torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]
