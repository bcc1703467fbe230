"""Fixed-seed sample grids from G_ema (saved by `bench.data.grid.save_grid`), to eyeball runs side by side."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

GRID_IMAGES = 64  # an 8 x 8 grid


def fixed_latents(z_dim: int, seed: int, count: int = GRID_IMAGES) -> torch.Tensor:
    """The same `count` latents for every grid of a run (a CPU generator, so identical on any device)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(count, z_dim, generator=gen)


@torch.no_grad()
def render_grid(generator: nn.Module, latents: torch.Tensor, device: torch.device, chunk: int = 32) -> np.ndarray:
    """G(latents) in eval mode as one uint8 (rows*R, cols*R, 3) image, images clipped from [-1, 1]."""
    was_training = generator.training
    generator.eval()
    parts = [generator(latents[i : i + chunk].to(device)).float().cpu() for i in range(0, len(latents), chunk)]
    generator.train(was_training)
    images = torch.cat(parts).clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)  # (N, 3, R, R)
    count, _, res, _ = images.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = torch.zeros(rows * res, cols * res, 3, dtype=torch.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * res : (r + 1) * res, c * res : (c + 1) * res] = image.permute(1, 2, 0)
    return grid.numpy()
