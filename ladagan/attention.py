"""Attention layers: LadaGAN's linear additive attention and the dot-product ablation.

Both take tokens (B, N, dim) and return (B, N, dim) and own the same q/k/v/out projections, so
the `dot` ablation swaps only the mixing op (it drops Lada's Linear(dim -> heads) score layer).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

ATTENTION_KINDS = ("lada", "dot")


class LadaAttention(nn.Module):
    """Linear additive attention (tensorflow/model.py AdditiveAttention): O(N·dim) time and memory."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        _check_heads(dim, heads)
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        # One score per token and head from the full projected query (not the head's slice).
        self.score = nn.Linear(dim, heads)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool one global query per head, then mix it elementwise into keys and values."""
        batch, tokens, dim = x.shape
        q, k, v = self.q(x), self.k(x), self.v(x)
        logits = self.score(q)
        # Softmax over the token axis in at least float32 (bf16 sums over 1024 tokens lose precision).
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32)) / math.sqrt(self.head_dim)
        alpha = logits.softmax(dim=1).to(q.dtype)  # (B, N, H)
        split = (batch, tokens, self.heads, self.head_dim)
        q, k, v = q.reshape(split), k.reshape(split), v.reshape(split)
        global_q = torch.einsum("bnh,bnhd->bhd", alpha, q).unsqueeze(1)  # (B, 1, H, d)
        mixed = global_q * k * v  # p = g ⊙ k, r = p ⊙ v; no residual, no second pooling
        return self.out(mixed.reshape(batch, tokens, dim))


class DotAttention(nn.Module):
    """Standard multi-head softmax dot-product attention with Lada's projections (ablation)."""

    def __init__(self, dim: int, heads: int, math_sdpa: bool = False) -> None:
        super().__init__()
        _check_heads(dim, heads)
        self.heads = heads
        self.head_dim = dim // heads
        # Fused SDPA kernels have no double backward; the discriminator needs it for R1.
        self.math_sdpa = math_sdpa
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled dot-product attention over all token pairs, per head."""
        batch, tokens, dim = x.shape
        split = (batch, tokens, self.heads, self.head_dim)
        q, k, v = (proj(x).reshape(split).transpose(1, 2) for proj in (self.q, self.k, self.v))
        backend = sdpa_kernel(SDPBackend.MATH) if self.math_sdpa else contextlib.nullcontext()
        with backend:
            mixed = F.scaled_dot_product_attention(q, k, v)  # (B, H, N, d)
        return self.out(mixed.transpose(1, 2).reshape(batch, tokens, dim))


def make_attention(kind: str, dim: int, heads: int, double_backward: bool = False) -> nn.Module:
    """Build the attention layer named by a config's `attention` field."""
    if kind == "lada":
        return LadaAttention(dim, heads)
    if kind == "dot":
        return DotAttention(dim, heads, math_sdpa=double_backward)
    raise ValueError(f"attention '{kind}' is unknown; choose one of {', '.join(ATTENTION_KINDS)}")


def _check_heads(dim: int, heads: int) -> None:
    """Refuse a width that does not split evenly into heads."""
    if heads < 1 or dim % heads:
        raise ValueError(f"attention width {dim} does not split into {heads} heads; pick heads dividing it")
