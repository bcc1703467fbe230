"""Operation counts against closed forms: Lada is linear in tokens, dot-product has the N^2 term.

Closed forms per image for one layer of width d with H heads over N tokens (multiply-adds, matrix
products only; biases, softmax and elementwise products are not counted by either counter):
  Lada: q, k, v, out projections 4 N d^2 + score layer N d H + global-query pooling N d
  dot:  4 N d^2 + Q K^T (N^2 d) + attention x V (N^2 d)
  grid (w x w windows): 4 N d^2 + 2 N w^2 d
"""

from __future__ import annotations

import pytest
import torch

from bench.metrics.attention_scaling import WindowAttention
from bench.metrics.flops import (
    counted_flops,
    fvcore_macs,
    generator_macs_per_image,
    module_forward_flops,
)
from ladagan.attention import DotAttention, LadaAttention

WIDTH, HEADS = 32, 4


def lada_macs(tokens: int, dim: int = WIDTH, heads: int = HEADS) -> int:
    """Closed-form MACs of one LadaAttention layer per image."""
    return 4 * tokens * dim * dim + tokens * dim * heads + tokens * dim


def dot_macs(tokens: int, dim: int = WIDTH) -> int:
    """Closed-form MACs of one DotAttention layer per image."""
    return 4 * tokens * dim * dim + 2 * tokens * tokens * dim


@pytest.mark.parametrize("tokens", [64, 256])
def test_lada_layer_counts_match_closed_form(tokens: int) -> None:
    layer = LadaAttention(WIDTH, HEADS)
    x = torch.randn(1, tokens, WIDTH)
    assert fvcore_macs(layer, (x,))[0] == lada_macs(tokens)
    assert module_forward_flops(layer, (x,)) == 2 * lada_macs(tokens)


@pytest.mark.parametrize("tokens", [64, 256])
def test_dot_layer_counts_match_closed_form_with_quadratic_term(tokens: int) -> None:
    layer = DotAttention(WIDTH, HEADS)
    x = torch.randn(1, tokens, WIDTH)
    macs, by_op = fvcore_macs(layer, (x,))
    assert macs == dot_macs(tokens)
    assert by_op["scaled_dot_product_attention"] == 2 * tokens * tokens * WIDTH  # counted, not dropped
    assert module_forward_flops(layer, (x,)) == 2 * dot_macs(tokens)


def test_token_scaling_is_linear_for_lada_and_quadratic_for_dot() -> None:
    lada, dot = LadaAttention(WIDTH, HEADS), DotAttention(WIDTH, HEADS)
    small, large = torch.randn(1, 64, WIDTH), torch.randn(1, 256, WIDTH)
    assert fvcore_macs(lada, (large,))[0] == 4 * fvcore_macs(lada, (small,))[0]
    dot_extra = fvcore_macs(dot, (large,))[0] - 4 * fvcore_macs(dot, (small,))[0]
    assert dot_extra == 2 * WIDTH * (256**2 - 4 * 64**2)  # exactly the N^2 term's growth


def test_grid_layer_counts_windows() -> None:
    layer = WindowAttention(WIDTH, HEADS, window=16)
    x = torch.randn(1, 1024, WIDTH)  # 32x32 map -> four 16x16 windows
    assert fvcore_macs(layer, (x,))[0] == 4 * 1024 * WIDTH**2 + 2 * 1024 * 256 * WIDTH
    # A map smaller than one window is global attention: the dot-product count.
    assert fvcore_macs(layer, (torch.randn(1, 64, WIDTH),))[0] == dot_macs(64)


def test_window_attention_equals_dot_attention_inside_one_window() -> None:
    torch.manual_seed(0)
    grid, dot = WindowAttention(WIDTH, HEADS), DotAttention(WIDTH, HEADS)
    dot.load_state_dict(grid.state_dict())
    x = torch.randn(2, 256, WIDTH)  # 16x16 tokens: one window
    torch.testing.assert_close(grid(x), dot(x))


def test_authors_default_64px_generator_is_076_gmacs() -> None:
    import ladagan
    from ladagan.presets import PRESETS

    generator, _ = ladagan.build(PRESETS["celeba64"], init=False)
    macs = generator_macs_per_image(generator, generator.z_dim)
    assert macs == pytest.approx(0.76e9, rel=0.02)
    # FlopCounterMode agrees (it does not count LayerNorm, fvcore does: 1.6 M of 760 M).
    flops = module_forward_flops(generator.eval(), (torch.randn(1, generator.z_dim),))
    assert flops / 2 == pytest.approx(macs, rel=0.005)


def test_flop_counter_survives_r1_double_backward() -> None:
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8, requires_grad=True)

    def r1_like() -> None:
        """Gradient penalty: grad of outputs w.r.t. inputs with create_graph, then backward."""
        (grad,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
        grad.square().sum().backward()

    total, by_op = counted_flops(r1_like)
    # forward x W^T, input gradient ones W, then d/dW of the penalty: three (3x8)(8x4)-sized products.
    assert total == 3 * (2 * 3 * 8 * 4)
    assert by_op == {"aten.addmm": 192, "aten.mm": 384}
