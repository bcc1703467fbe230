"""How G_ema starts: from G's own weights, or from a freshly initialised generator.

The authors' TF trainer builds G_ema with `tf.keras.models.clone_model(generator)`, which re-creates
the layers with fresh draws of the same initialisers rather than copying G's weights
(milmor/LadaGAN tensorflow/trainer.py); their PyTorch port starts G_ema as an exact copy of G.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def initial_ema_state(
    generator: nn.Module, ema_start: str, build_generator: Callable[[], nn.Module], seed: int
) -> dict[str, torch.Tensor]:
    """The weights and buffers G_ema starts from: G's ('copy') or a new G's drawn under `seed` ('fresh').

    The fresh generator is built under a forked CPU RNG seeded with `seed`, so the draw depends on the
    seed alone and the caller's global RNG stream is left as it was.
    """
    if ema_start == "copy":
        return {name: value.detach().clone() for name, value in generator.state_dict().items()}
    if ema_start != "fresh":
        raise ValueError(f"unknown EMA start '{ema_start}'; use 'fresh' or 'copy'")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_generator()
    return fresh.state_dict()
