"""Multi-head dot-product attention over non-overlapping square windows with a relative position bias.

TransGAN's "grid self-attention": the HxW token map is cut into windows of side w, attention runs
inside each window only, and a learned Swin-style table adds a bias per (head, relative offset). A
window that covers the whole map is ordinary global attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def relative_position_index(side: int) -> torch.Tensor:
    """(side², side²) indices into a (2·side-1)² bias table: index of (dy, dx) = (dy+side-1)(2·side-1) + dx+side-1."""
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()  # token n sits at (n // side, n % side): row-major, as the models
    dy = ys[:, None] - ys[None, :] + side - 1
    dx = xs[:, None] - xs[None, :] + side - 1
    return dy * (2 * side - 1) + dx


def window_partition(x: torch.Tensor, side: int, window: int) -> torch.Tensor:
    """(B, side², C) row-major tokens -> (B·nW, window², C), windows in row-major order."""
    b, _, c = x.shape
    n = side // window
    x = x.view(b, n, window, n, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * n * n, window * window, c)


def window_merge(x: torch.Tensor, side: int, window: int) -> torch.Tensor:
    """Inverse of `window_partition`: (B·nW, window², C) -> (B, side², C)."""
    n = side // window
    c = x.shape[-1]
    x = x.view(-1, n, n, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, side * side, c)


class GridAttention(nn.Module):
    """Dot-product MHA inside windows of side `min(window, side)`, with a learned relative position bias."""

    def __init__(self, dim: int, heads: int, side: int, window: int = 16, math_only: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.window = min(window, side)
        if side % self.window:
            raise ValueError(f"token map side {side} is not a multiple of the window {self.window}")
        self.side, self.heads, self.head_dim = side, heads, dim // heads
        # R1 / gradient penalties need double backward, which fused SDPA kernels lack: D sets math_only.
        self.math_only = math_only
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * self.window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(self.window), persistent=False)

    def position_bias(self) -> torch.Tensor:
        """(heads, w², w²) additive bias gathered from the table."""
        n = self.window * self.window
        return self.bias_table[self.bias_index.view(-1)].view(n, n, self.heads).permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        if n != self.side * self.side:
            raise ValueError(f"expected {self.side}² tokens, got {n}")
        windows = window_partition(x, self.side, self.window)
        q, k, v = self.qkv(windows).view(windows.shape[0], -1, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        bias = self.position_bias().to(q.dtype)
        if self.math_only:
            attn = (q @ k.transpose(-2, -1)) * self.head_dim**-0.5 + bias
            out = attn.softmax(dim=-1) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        out = out.transpose(1, 2).reshape(windows.shape[0], -1, c)
        return self.proj(window_merge(out, self.side, self.window))
