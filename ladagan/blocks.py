"""Building blocks: positional embedding, SLN, MLP, the G and D Ladaformer blocks, the D down block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ladagan.attention import make_attention


class PositionalEmbedding(nn.Module):
    """Learned absolute position embedding added to a fixed number of tokens (Keras Embedding)."""

    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        # (tokens, dim), as the Keras Embedding table, so the orthogonal init sees the same matrix;
        # zeros until tf_init_ runs, so an uninitialised build never holds garbage memory.
        self.weight = nn.Parameter(torch.zeros(tokens, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the table to tokens (B, tokens, dim)."""
        return x + self.weight


class SelfModulatedLayerNorm(nn.Module):
    """Affine-free LayerNorm scaled by gamma(z) and shifted by beta(z) (no '1 + gamma')."""

    def __init__(self, dim: int, z_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.hidden = nn.Linear(z_dim, dim)
        self.gamma = nn.Linear(dim, dim)
        self.beta = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Normalise tokens x (B, N, dim) over channels and modulate them with the latent z (B, z_dim)."""
        h = F.relu(self.hidden(z))
        gamma, beta = self.gamma(h).unsqueeze(1), self.beta(h).unsqueeze(1)
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * gamma + beta


class AffineLayerNorm(nn.LayerNorm):
    """Plain affine LayerNorm with the SLN call signature; z is ignored (the `sln=False` ablation)."""

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise x; the latent does not enter."""
        return super().forward(x)


class Mlp(nn.Sequential):
    """Two-layer MLP with exact (erf) GELU, as Keras Dense(activation='gelu')."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__(nn.Linear(dim, hidden_dim), nn.GELU(approximate="none"), nn.Linear(hidden_dim, dim))


class GeneratorBlock(nn.Module):
    """SMLadaformer: x + attn(SLN(x, z)), then MLP(SLN(., z)) with no residual around the MLP."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_dim: int,
        z_dim: int,
        attention: str = "lada",
        sln: bool = True,
        mlp_residual: bool = False,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = SelfModulatedLayerNorm(dim, z_dim, eps) if sln else AffineLayerNorm(dim, eps=eps)
        self.attn = make_attention(attention, dim, heads)
        self.norm2 = SelfModulatedLayerNorm(dim, z_dim, eps) if sln else AffineLayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim)
        self.mlp_residual = mlp_residual

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Apply the block to tokens x (B, N, dim) under latent z (B, z_dim)."""
        x = x + self.attn(self.norm1(x, z))
        out = self.mlp(self.norm2(x, z))
        # The reference replaces the stream with the MLP output (tensorflow/model.py:128).
        return x + out if self.mlp_residual else out


class DiscriminatorBlock(nn.Module):
    """Ladaformer: a standard pre-LN transformer block (residuals around attention and MLP)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, attention: str = "lada", eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        # R1 differentiates D's gradient, so dot attention must avoid the fused SDPA kernels.
        self.attn = make_attention(attention, dim, heads, double_backward=True)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to tokens x (B, N, dim)."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _bn(channels: int, eps: float) -> nn.BatchNorm2d:
    """BatchNorm with Keras defaults (momentum 0.99 there is 0.01 here)."""
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.01)


class DownBlock(nn.Module):
    """FastGAN-style halving block: mean of a strided conv path and an avg-pool + 1x1 conv path."""

    def __init__(self, in_channels: int, out_channels: int, bn_eps: float = 1e-3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            # TF 'same' padding for a stride-2 3x3 conv on an even size pads only bottom and right
            # (pad_total 1 -> 0 before, 1 after); symmetric padding=1 would shift the sampling grid.
            nn.ZeroPad2d((0, 1, 0, 1)),
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=0, bias=False),
            _bn(out_channels, bn_eps),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            _bn(out_channels, bn_eps),
            nn.LeakyReLU(0.2),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            _bn(out_channels, bn_eps),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution of x (B, C, H, W)."""
        return (self.main(x) + self.direct(x)) / 2


class DecoderStage(nn.Sequential):
    """Optional conv-decoder stage of G: nearest x2 upsample, 3x3 conv, BatchNorm, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, bn_eps: float = 1e-3) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            _bn(out_channels, bn_eps),
            nn.LeakyReLU(0.2),
        )
