"""Attention-scaling benchmark: time, memory and MACs of one attention layer as the token count grows.

Three layers with the same q/k/v/out projections at a fixed width, so only the token-mixing op
differs: LadaGAN's linear additive attention, global dot-product attention, and the TransGAN-style
baseline's grid attention (dot-product attention inside non-overlapping 16x16-token windows, plus a
relative position bias). Tokens form a
square map: 64 (8x8) to 4096 (64x64). The claim under test: Lada grows linearly in tokens,
dot-product quadratically, grid linearly with a larger constant once the map exceeds one window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from baselines.grid_attention import GridAttention
from bench.metrics.flops import fvcore_macs
from bench.metrics.speed import peak_memory, time_calls
from ladagan.attention import DotAttention, LadaAttention

DEFAULT_TOKENS = (64, 256, 1024, 4096)
SCALING_HEADS = 4  # attention heads of the benchmarked layers (--dim must be a multiple)
GRID_WINDOW = 16  # the TransGAN-style baseline's window side (baselines/transgan.py)
LAYERS = ("lada", "dot", "grid")


def make_layer(kind: str, dim: int, heads: int, tokens: int) -> nn.Module:
    """One attention layer of the named kind for a square map of `tokens` tokens: the models' own modules.

    "grid" is the TransGAN-style baseline's layer (`baselines/grid_attention.py`: 16x16 windows with a
    relative position bias), so the benchmark measures what the baseline trains, not a stand-in.
    """
    if kind == "lada":
        return LadaAttention(dim, heads)
    if kind == "dot":
        return DotAttention(dim, heads)
    if kind == "grid":
        side = math.isqrt(tokens)
        if side * side != tokens:
            raise ValueError(f"{tokens} tokens do not form a square map")
        return GridAttention(dim, heads, side=side, window=GRID_WINDOW)
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
    tokens: tuple[int, ...] = DEFAULT_TOKENS,
    dim: int = 256,
    heads: int = SCALING_HEADS,
    batch: int = 1,
    device: str = "cpu",
    repeats: int = 10,
    warmup: int = 2,
    layers: tuple[str, ...] = LAYERS,
) -> list[dict[str, Any]]:
    """One row per (layer, token count): MACs/image, forward and forward+backward time, peak memory."""
    rows = []
    for kind in layers:
        for count in tokens:
            torch.manual_seed(0)
            layer = make_layer(kind, dim, heads, count).to(device)
            macs, _ = fvcore_macs(layer, (torch.randn(1, count, dim, device=device),))
            x = torch.randn(batch, count, dim, device=device)
            forward, forward_backward = _passes(layer, x)
            with peak_memory(device) as fwd_mem:
                fwd = time_calls(forward, device, repeats, warmup)
            with peak_memory(device) as train_mem:
                train = time_calls(forward_backward, device, repeats, warmup)
            layer.zero_grad(set_to_none=True)
            fwd_ms, train_ms = sorted(fwd)[len(fwd) // 2] * 1e3, sorted(train)[len(train) // 2] * 1e3
            rows.append(
                {
                    "layer": kind,
                    "tokens": count,
                    "dim": dim,
                    "heads": heads,
                    "batch": batch,
                    "device": str(device),
                    "cpu_threads": torch.get_num_threads(),
                    "macs_per_image": macs,
                    "fwd_ms_median": fwd_ms,
                    "fwd_ms_min": min(fwd) * 1e3,
                    "fwd_bwd_ms_median": train_ms,
                    "fwd_bwd_ms_min": min(train) * 1e3,
                    "repeats": repeats,
                    **fwd_mem.as_dict("fwd"),
                    **train_mem.as_dict("fwd_bwd"),
                }
            )
    return rows
