"""TF-style init: every kernel and position table (semi-)orthogonal, biases zero, norms at identity."""

from __future__ import annotations

import torch
from torch import nn

from ladagan import PRESETS, build
from ladagan.blocks import PositionalEmbedding
from ladagan.init import tf_init_


def assert_semi_orthogonal(weight: torch.Tensor, label: str) -> None:
    """W Wᵀ = I when W (out, fan_in) is wide, Wᵀ W = I when it is tall."""
    w = weight.detach().reshape(weight.shape[0], -1).double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    torch.testing.assert_close(gram, torch.eye(gram.shape[0], dtype=torch.float64), atol=1e-5, rtol=0, msg=label)


def test_weights_orthogonal_biases_zero_norms_identity() -> None:
    torch.manual_seed(0)
    generator, discriminator = build(PRESETS["tiny128"])  # tiny128 has the conv decoder and its BNs
    checked = {"kernel": 0, "pos": 0, "norm": 0}
    for model in (generator, discriminator):
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                assert_semi_orthogonal(module.weight, name)
                if module.bias is not None:
                    assert torch.count_nonzero(module.bias) == 0, name
                checked["kernel"] += 1
            elif isinstance(module, PositionalEmbedding):
                assert_semi_orthogonal(module.weight, name)  # the (tokens, dim) table itself
                checked["pos"] += 1
            elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)) and module.weight is not None:
                assert torch.all(module.weight == 1) and torch.count_nonzero(module.bias) == 0, name
                checked["norm"] += 1
    assert checked["kernel"] > 40 and checked["pos"] == 4 and checked["norm"] > 10


def test_position_table_scale_matches_keras_orthogonal() -> None:
    # A (64, 1024) orthogonal table has entries of std 1/sqrt(1024) ≈ 0.031, not randn's 1.
    torch.manual_seed(0)
    table = tf_init_(PositionalEmbedding(64, 1024))  # the 8x8 table of the 64-px default G
    std = table.weight.std().item()
    assert abs(std - 1024**-0.5) < 0.002


def test_init_false_leaves_torch_defaults() -> None:
    torch.manual_seed(0)
    generator, _ = build(PRESETS["tiny32"], init=False)
    assert torch.count_nonzero(generator.to_rgb.bias) > 0  # torch's default uniform bias, not TF's zeros
