"""TF-style initialisation: Keras 'orthogonal' for every kernel and position table, zero biases."""

from __future__ import annotations

import torch
from torch import nn

from ladagan.blocks import PositionalEmbedding


@torch.no_grad()
def tf_init_(model: nn.Module) -> nn.Module:
    """Initialise in place as the TF reference; meta tensors (shape-only models) are left alone."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, PositionalEmbedding)):
            if module.weight.is_meta:
                continue
            # torch flattens to (out, in*kh*kw); Keras to (kh*kw*in, out): the same matrix transposed.
            nn.init.orthogonal_(module.weight)
            bias = getattr(module, "bias", None)
            if bias is not None:
                nn.init.zeros_(bias)
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)) and module.weight is not None:
            if not module.weight.is_meta:
                module.reset_parameters()  # gamma 1, beta 0, as Keras
    return model
