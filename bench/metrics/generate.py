"""Generated images for evaluation: one latent seed per image, so the set never depends on batch size."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.metrics.features import CPU_FORWARD_IMAGES, FeatureExtractor, image_features, progress_bar

LATENT_SEED_STRIDE = 1_000_003  # prime > any image count, so (seed, index) pairs never share a latent
LATENT_RULE = f"z_i = randn(z_dim, generator=torch.Generator().manual_seed(seed*{LATENT_SEED_STRIDE} + i))"
QUANTISE_RULE = "uint8 = clamp(x*127.5 + 128, 0, 255) (as samples saved to PNG)"


def latents(seed: int, start: int, count: int, z_dim: int) -> torch.Tensor:
    """Latents (count, z_dim) of images start..start+count-1 of sample seed `seed` (float32, CPU)."""
    out = torch.empty(count, z_dim)
    for row, index in enumerate(range(start, start + count)):
        rng = torch.Generator().manual_seed(seed * LATENT_SEED_STRIDE + index)
        out[row] = torch.randn(z_dim, generator=rng)
    return out


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output (B, 3, R, R), roughly [-1, 1], to uint8 (B, R, R, 3)."""
    pixels = (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def generate_uint8(
    generator: nn.Module, seed: int, count: int, device: str = "cpu", batch_size: int = 50, start: int = 0
) -> np.ndarray:
    """`count` images (uint8, (N, R, R, 3)) of sample seed `seed` from `generator` in eval mode."""
    generator.eval()
    # On CPU a 50-image forward of a conv generator at 64 px takes about 2 s: Ctrl-C waits for it to return.
    # Passes of a few images keep it near a second, at the same speed per image (see CPU_FORWARD_IMAGES).
    step = CPU_FORWARD_IMAGES if torch.device(device).type == "cpu" else batch_size
    chunks = []
    for first in range(start, start + count, step):
        n = min(step, start + count - first)
        z = latents(seed, first, n, generator.z_dim).to(device)
        chunks.append(to_uint8(generator(z)))
    return np.concatenate(chunks)


def generated_features(
    generator: nn.Module,
    seed: int,
    count: int,
    extractor: FeatureExtractor,
    device: str = "cpu",
    batch_size: int = 50,
    show_progress: bool = True,
) -> np.ndarray:
    """Features (count, D) of generated images, streamed batch by batch (no image set held in memory)."""
    chunks = []
    with progress_bar(f"generated features seed {seed} ({count})", count, show_progress) as advance:
        for first in range(0, count, batch_size):
            n = min(batch_size, count - first)
            images = generate_uint8(generator, seed, n, device=device, batch_size=n, start=first)
            chunks.append(image_features(images, extractor, device=device, batch_size=n, show_progress=False))
            advance(n)
    return np.concatenate(chunks)
