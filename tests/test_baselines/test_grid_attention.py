"""Grid (window) attention: global when one window covers the map, local otherwise, correct bias indices."""

from __future__ import annotations

import torch

from baselines.grid_attention import GridAttention, relative_position_index


def _reference_global(attn: GridAttention, x: torch.Tensor) -> torch.Tensor:
    """Global multi-head attention with the module's weights, written out token pair by token pair."""
    b, n, c = x.shape
    h, d = attn.heads, attn.head_dim
    side = attn.side
    q, k, v = attn.qkv(x).split(c, dim=-1)
    out = torch.zeros(b, n, c)
    table = attn.bias_table.detach()
    for head in range(h):
        sl = slice(head * d, (head + 1) * d)
        logits = torch.empty(b, n, n)
        for i in range(n):
            for j in range(n):
                dy, dx = i // side - j // side, i % side - j % side
                bias = table[(dy + side - 1) * (2 * side - 1) + (dx + side - 1), head]
                logits[:, i, j] = (q[:, i, sl] * k[:, j, sl]).sum(-1) / d**0.5 + bias
        out[:, :, sl] = logits.softmax(-1) @ v[:, :, sl]
    return attn.proj(out)


def test_one_window_covering_the_map_is_global_attention():
    torch.manual_seed(0)
    attn = GridAttention(dim=8, heads=2, side=4, window=16)  # window clipped to the 4x4 map
    torch.nn.init.normal_(attn.bias_table, std=0.5)  # make the bias matter
    x = torch.randn(2, 16, 8)
    with torch.no_grad():
        expected = _reference_global(attn, x)
        assert torch.allclose(attn(x), expected, atol=1e-5)
        attn.math_only = True
        assert torch.allclose(attn(x), expected, atol=1e-5)


def test_tokens_do_not_see_other_windows():
    torch.manual_seed(0)
    attn = GridAttention(dim=8, heads=2, side=8, window=4)  # four 4x4 windows
    x = torch.randn(1, 64, 8)
    y = attn(x).detach()
    x2 = x.clone()
    # Change every token of the bottom-right window (rows 4-7, cols 4-7).
    rows, cols = torch.meshgrid(torch.arange(4, 8), torch.arange(4, 8), indexing="ij")
    changed = (rows * 8 + cols).flatten()
    x2[0, changed] += 3.0
    y2 = attn(x2).detach()
    others = torch.ones(64, dtype=torch.bool)
    others[changed] = False
    assert torch.allclose(y[0, others], y2[0, others], atol=1e-6)
    assert not torch.allclose(y[0, changed], y2[0, changed], atol=1e-3)


def test_relative_position_index_on_a_3x3_grid():
    side = 3
    idx = relative_position_index(side)
    assert idx.shape == (9, 9)
    coords = [(y, x) for y in range(side) for x in range(side)]
    for i, (yi, xi) in enumerate(coords):
        for j, (yj, xj) in enumerate(coords):
            assert idx[i, j] == (yi - yj + 2) * 5 + (xi - xj + 2)
    # Same offset, same entry; the diagonal is offset (0, 0), the table's centre.
    assert torch.all(idx.diagonal() == 12)
    assert idx.max() == 24 and idx.min() == 0
