"""Attention layers: Lada equals a naive loop, costs linear in tokens; dot equals MultiheadAttention."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from ladagan.attention import DotAttention, LadaAttention, make_attention


@torch.no_grad()
def naive_lada(layer: LadaAttention, x: torch.Tensor) -> torch.Tensor:
    """LadaGAN attention written token by token and head by head from the paper's equations."""
    batch, tokens, dim = x.shape
    heads = layer.heads
    d = dim // heads
    out = torch.zeros_like(x)
    for b in range(batch):
        q = [x[b, i] @ layer.q.weight.T + layer.q.bias for i in range(tokens)]
        k = [x[b, i] @ layer.k.weight.T + layer.k.bias for i in range(tokens)]
        v = [x[b, i] @ layer.v.weight.T + layer.v.bias for i in range(tokens)]
        mixed = [torch.zeros(dim, dtype=x.dtype) for _ in range(tokens)]
        for h in range(heads):
            w_h, c_h = layer.score.weight[h], layer.score.bias[h]
            scores = [float((w_h @ q[i] + c_h) / math.sqrt(d)) for i in range(tokens)]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            alpha = [e / sum(exps) for e in exps]
            g = sum(alpha[i] * q[i][h * d : (h + 1) * d] for i in range(tokens))
            for i in range(tokens):
                mixed[i][h * d : (h + 1) * d] = g * k[i][h * d : (h + 1) * d] * v[i][h * d : (h + 1) * d]
        for i in range(tokens):
            out[b, i] = mixed[i] @ layer.out.weight.T + layer.out.bias
    return out


def randomise_(layer: torch.nn.Module) -> None:
    """Give every parameter (biases included) random values so no term can hide behind a zero."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0, 0.3)


def test_lada_matches_naive_loop() -> None:
    torch.manual_seed(0)
    layer = LadaAttention(dim=12, heads=3).double()
    randomise_(layer)
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    torch.testing.assert_close(layer(x), naive_lada(layer, x), rtol=1e-10, atol=1e-10)


def test_lada_scale_uses_head_dim_not_width() -> None:
    # With scale 1/sqrt(dim) instead of 1/sqrt(dim/heads) the softmax would be flatter and differ.
    torch.manual_seed(0)
    layer = LadaAttention(dim=16, heads=4).double()
    randomise_(layer)
    x = torch.randn(1, 5, 16, dtype=torch.float64)
    with torch.no_grad():
        layer.score.weight.mul_(10)  # make scores large so the scale matters
    torch.testing.assert_close(layer(x), naive_lada(layer, x), rtol=1e-10, atol=1e-10)


def attention_flops(layer: torch.nn.Module, tokens: int, dim: int) -> int:
    """Forward FLOPs of one call on (2, tokens, dim) as counted by torch's FlopCounterMode."""
    counter = FlopCounterMode(display=False)
    with counter:
        layer(torch.randn(2, tokens, dim))
    return counter.get_total_flops()


def test_lada_flops_linear_in_tokens() -> None:
    layer = LadaAttention(dim=32, heads=4)
    assert attention_flops(layer, 192, 32) == 2 * attention_flops(layer, 96, 32)
    # The counter sees quadratic terms: dot attention must grow faster than 2x. (Math path: torch's
    # FlopCounterMode does not count the fused CPU flash-attention op at all.)
    dot = DotAttention(dim=32, heads=4, math_sdpa=True)
    assert attention_flops(dot, 192, 32) > 2.2 * attention_flops(dot, 96, 32)


class ShapeRecorder(TorchDispatchMode):
    """Records the shape of every tensor produced by every aten op."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        """Run the op and note its outputs' shapes."""
        out = func(*args, **(kwargs or {}))
        self.shapes += [tuple(t.shape) for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        return out


def n_by_n_shapes(layer: torch.nn.Module, tokens: int, dim: int, backward: bool) -> list:
    """Shapes of intermediate tensors with the token count on two axes (an N x N matrix)."""
    x = torch.randn(2, tokens, dim, requires_grad=True)
    with ShapeRecorder() as rec:
        y = layer(x)
        if backward:
            y.square().sum().backward()
    return [s for s in rec.shapes if s.count(tokens) >= 2]


@pytest.mark.parametrize("backward", [False, True])
def test_lada_builds_no_n_by_n_tensor(backward: bool) -> None:
    # 97 tokens: a number no width, head count or batch size here can collide with.
    assert n_by_n_shapes(LadaAttention(dim=32, heads=4), 97, 32, backward) == []
    # The recorder does see the N x N scores of dot attention (math path), so it is not blind.
    assert n_by_n_shapes(DotAttention(dim=32, heads=4, math_sdpa=True), 97, 32, backward)


def test_dot_matches_multihead_attention() -> None:
    torch.manual_seed(0)
    dim, heads = 24, 3
    ours = DotAttention(dim, heads)
    randomise_(ours)
    ref = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(2, 10, dim)
    expected, _ = ref(x, x, x, need_weights=False)
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)


def test_dot_has_same_projections_without_score_layer() -> None:
    lada, dot = LadaAttention(32, 4), DotAttention(32, 4)
    lada_names = {n for n, _ in lada.named_parameters()}
    assert {n for n, _ in dot.named_parameters()} == lada_names - {"score.weight", "score.bias"}


@pytest.mark.parametrize("kind", ["lada", "dot"])
def test_double_backward_through_attention(kind: str) -> None:
    torch.manual_seed(0)
    layer = make_attention(kind, 16, 2, double_backward=True)
    x = torch.randn(2, 9, 16, requires_grad=True)
    (grad_x,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    grad_x.square().sum().backward()
    assert layer.q.weight.grad is not None and layer.q.weight.grad.abs().sum() > 0


def test_unknown_attention_kind_is_named() -> None:
    with pytest.raises(ValueError, match="'flash'.*lada, dot"):
        make_attention("flash", 16, 2)
