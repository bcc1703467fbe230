"""Attention-scaling benchmark: time, memory and MACs of one attention layer as the token count grows.

Three layers with the same q/k/v/out projections at a fixed width, so only the token-mixing op
differs: LadaGAN's linear additive attention, global dot-product attention, and grid (window)
attention, i.e. dot-product attention inside non-overlapping 16x16-token windows. Tokens form a
square map: 64 (8x8) to 4096 (64x64). The claim under test: Lada grows linearly in tokens,
dot-product quadratically, grid linearly with a larger constant once the map exceeds one window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.metrics.flops import fvcore_macs
from bench.metrics.speed import peak_memory, time_calls
from ladagan.attention import DotAttention, LadaAttention

DEFAULT_TOKENS = (64, 256, 1024, 4096)
LAYERS = ("lada", "dot", "grid")


class WindowAttention(nn.Module):
    """Dot-product attention inside non-overlapping `window` x `window` token windows (SDPA per window)."""

    def __init__(self, dim: int, heads: int, window: int = 16) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} does not split into {heads} heads")
        self.heads, self.head_dim, self.window = heads, dim // heads, window
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, side*side, dim), row-major, -> same shape; maps smaller than a window attend globally."""
        batch, tokens, dim = x.shape
        side = math.isqrt(tokens)
        win = min(self.window, side)
        if side * side != tokens or side % win:
            raise ValueError(f"{tokens} tokens do not form a square map divisible into {win}x{win} windows")
        per_side = side // win
        # (B, side, side, C) -> (B * windows, win*win, C)
        grid = x.reshape(batch, per_side, win, per_side, win, dim).permute(0, 1, 3, 2, 4, 5)
        windows = grid.reshape(-1, win * win, dim)
        split = (windows.shape[0], win * win, self.heads, self.head_dim)
        q, k, v = (proj(windows).reshape(split).transpose(1, 2) for proj in (self.q, self.k, self.v))
        mixed = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(-1, win * win, dim)
        merged = mixed.reshape(batch, per_side, per_side, win, win, dim).permute(0, 1, 3, 2, 4, 5)
        return self.out(merged.reshape(batch, tokens, dim))


def make_layer(kind: str, dim: int, heads: int) -> nn.Module:
    """One attention layer of the named kind (the model's own Lada and dot-product modules)."""
    if kind == "lada":
        return LadaAttention(dim, heads)
    if kind == "dot":
        return DotAttention(dim, heads)
    if kind == "grid":
        return WindowAttention(dim, heads)
    raise ValueError(f"attention layer '{kind}' is unknown; known: {', '.join(LAYERS)}")


def _passes(layer: nn.Module, x: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    """An inference pass and a training pass (forward, then backward to input and weights) of `layer` on `x`."""
    x_grad = x.clone().requires_grad_(True)

    def forward() -> None:
        """Inference pass."""
        with torch.no_grad():
            layer(x)

    def forward_backward() -> None:
        """Training pass."""
        layer(x_grad).sum().backward()

    return forward, forward_backward


def attention_scaling(
    tokens: tuple[int, ...] = DEFAULT_TOKENS, dim: int = 256, heads: int = 4, batch: int = 1,
    device: str = "cpu", repeats: int = 10, warmup: int = 2, layers: tuple[str, ...] = LAYERS,
) -> list[dict[str, Any]]:
    """One row per (layer, token count): MACs/image, forward and forward+backward time, peak memory."""
    rows = []
    for kind in layers:
        torch.manual_seed(0)
        layer = make_layer(kind, dim, heads).to(device)
        for count in tokens:
            macs, _ = fvcore_macs(layer, (torch.randn(1, count, dim, device=device),))
            x = torch.randn(batch, count, dim, device=device)
            forward, forward_backward = _passes(layer, x)
            with peak_memory(device) as fwd_mem:
                fwd = time_calls(forward, device, repeats, warmup)
            with peak_memory(device) as train_mem:
                train = time_calls(forward_backward, device, repeats, warmup)
            layer.zero_grad(set_to_none=True)
            fwd_ms, train_ms = sorted(fwd)[len(fwd) // 2] * 1e3, sorted(train)[len(train) // 2] * 1e3
            rows.append({
                "layer": kind, "tokens": count, "dim": dim, "heads": heads, "batch": batch, "device": str(device),
                "cpu_threads": torch.get_num_threads(),
                "macs_per_image": macs, "fwd_ms_median": fwd_ms, "fwd_ms_min": min(fwd) * 1e3,
                "fwd_bwd_ms_median": train_ms, "fwd_bwd_ms_min": min(train) * 1e3, "repeats": repeats,
                **fwd_mem.as_dict("fwd"),
                **train_mem.as_dict("fwd_bwd"),
            })
    return rows
