"""A TransGAN-style GAN (Jiang et al., NeurIPS 2021): Transformer G and D with grid self-attention.

Follows TransGAN's layout: z -> 8x8 tokens -> pre-LN Transformer stages that double the side with a
pixel shuffle, learned absolute position embeddings per stage, dot-product multi-head attention
with a learned Swin-style relative position bias, and grid (window) attention wherever a stage has
more tokens than one window (16x16 = 256 by default). The D embeds patches, runs Transformer stages
with grid attention where large, halves the side by 2x2 token merging down to 8x8, and reads one
logit from a class token.

Where it departs from TransGAN, and why (the suite compares architectures, so everything else is
LadaGAN's recipe): loss, regulariser and optimiser are the suite's (non-saturating loss, R1 on
augmented reals, Adam, 1:1 updates) instead of WGAN-GP with 4 critic steps; grid attention is used at
every stage with more tokens than one window, including the 32x32 stage of 32-px models where
TransGAN-CIFAR is global; the D is single-scale with fewer blocks than TransGAN's multi-scale D;
widths and depths are slimmed so G is closer in cost to LadaGAN (TransGAN-CIFAR's G is 83 M params);
z has 128 dimensions as LadaGAN's (TransGAN: 256); a linear layer follows a pixel shuffle when the
next stage's width is not a quarter of the previous one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.common import BaselinePreset, ladagan_recipe
from baselines.grid_attention import GridAttention
from ladagan.presets import TrainingConfig


@dataclass(frozen=True)
class TransGANConfig:
    """Stage widths, depths and heads of G (8x8 -> img) and D (patch grid -> 8x8), and the window side."""

    img_size: int = 32
    z_dim: int = 128
    g_dims: tuple[int, ...] = (1024, 256, 64)
    g_depths: tuple[int, ...] = (1, 2, 2)
    g_heads: tuple[int, ...] = (4, 4, 4)
    d_patch: int = 2
    d_dims: tuple[int, ...] = (192, 384)
    d_depths: tuple[int, ...] = (2, 2)
    d_heads: int = 4
    mlp_ratio: int = 4
    window: int = 16


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x)) with GELU (TransGAN's block)."""

    def __init__(self, dim: int, heads: int, side: int, window: int, mlp_ratio: int, math_only: bool):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = GridAttention(dim, heads, side, window, math_only=math_only)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _tokens_to_map(x: torch.Tensor, side: int) -> torch.Tensor:
    """(B, side², C) row-major tokens -> (B, C, side, side)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], side, side)


def _map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H·W, C) row-major tokens."""
    return x.flatten(2).transpose(1, 2)


class TransGANGenerator(nn.Module):
    """z -> Linear -> 8x8 tokens -> [blocks -> pixel shuffle (-> Linear)] per stage -> 1x1 conv to RGB."""

    def __init__(self, cfg: TransGANConfig):
        super().__init__()
        n_stages = int(math.log2(cfg.img_size // 8)) + 1
        if not (len(cfg.g_dims) == len(cfg.g_depths) == len(cfg.g_heads) == n_stages):
            raise ValueError(f"{cfg.img_size} px needs {n_stages} G stages (8x8 doubled to the image size)")
        self.z_dim, self.img_size, self.dims = cfg.z_dim, cfg.img_size, cfg.g_dims
        self.fc = nn.Linear(cfg.z_dim, 64 * cfg.g_dims[0])
        sides = [8 * 2**i for i in range(n_stages)]
        self.pos = nn.ParameterList(
            nn.Parameter(torch.zeros(1, s * s, d)) for s, d in zip(sides, cfg.g_dims, strict=True)
        )
        for p in self.pos:
            nn.init.trunc_normal_(p, std=0.02)
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(TransformerBlock(d, h, s, cfg.window, cfg.mlp_ratio, math_only=False) for _ in range(depth))
            )
            for s, d, depth, h in zip(sides, cfg.g_dims, cfg.g_depths, cfg.g_heads, strict=True)
        )
        # After a pixel shuffle a stage has prev/4 channels; project only where the next width differs.
        self.lift = nn.ModuleList(
            nn.Identity() if prev // 4 == nxt else nn.Linear(prev // 4, nxt)
            for prev, nxt in zip(cfg.g_dims[:-1], cfg.g_dims[1:], strict=True)
        )
        self.sides = sides
        self.to_rgb = nn.Conv2d(cfg.g_dims[-1], 3, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], 64, self.dims[0])
        for i, (stage, side) in enumerate(zip(self.stages, self.sides, strict=True)):
            x = stage(x + self.pos[i])
            if i + 1 < len(self.stages):
                x = self.lift[i](_map_to_tokens(F.pixel_shuffle(_tokens_to_map(x, side), 2)))
        return self.to_rgb(_tokens_to_map(x, self.sides[-1]))


class TransGANDiscriminator(nn.Module):
    """Patch embedding -> [blocks -> 2x2 token merge] per stage down to 8x8 -> class-token block -> logit."""

    def __init__(self, cfg: TransGANConfig):
        super().__init__()
        side = cfg.img_size // cfg.d_patch
        n_stages = int(math.log2(side // 8)) + 1
        if side != 8 * 2 ** (n_stages - 1) or len(cfg.d_dims) != n_stages or len(cfg.d_depths) != n_stages:
            raise ValueError(f"D with patch {cfg.d_patch} at {cfg.img_size} px needs {n_stages} stage widths/depths")
        self.embed = nn.Conv2d(3, cfg.d_dims[0], cfg.d_patch, stride=cfg.d_patch)
        self.pos = nn.Parameter(torch.zeros(1, side * side, cfg.d_dims[0]))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.sides = [side // 2**i for i in range(n_stages)]
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(TransformerBlock(d, cfg.d_heads, s, cfg.window, cfg.mlp_ratio, math_only=True) for _ in range(depth))
            )
            for s, d, depth in zip(self.sides, cfg.d_dims, cfg.d_depths, strict=True)
        )
        self.merge = nn.ModuleList(nn.Linear(4 * a, b) for a, b in zip(cfg.d_dims[:-1], cfg.d_dims[1:], strict=True))
        dim = cfg.d_dims[-1]
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls, std=0.02)
        # The class token joins the 8x8 map (65 tokens): global attention, position bias not applicable.
        self.cls_block = nn.TransformerEncoderLayer(
            dim, cfg.d_heads, cfg.mlp_ratio * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = _map_to_tokens(self.embed(x)) + self.pos
        for i, (stage, side) in enumerate(zip(self.stages, self.sides, strict=True)):
            t = stage(t)
            if i + 1 < len(self.stages):
                t = self.merge[i](_map_to_tokens(F.pixel_unshuffle(_tokens_to_map(t, side), 2)))
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1)
        # nn.TransformerEncoderLayer's fast path has no double backward; R1 needs it, so force the math path.
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            t = self.cls_block(t)
        return self.head(self.norm(t[:, 0]))


def build(preset: BaselinePreset) -> tuple[TransGANGenerator, TransGANDiscriminator]:
    """Build (G, D) for a TransGAN-style preset."""
    return TransGANGenerator(preset.config), TransGANDiscriminator(preset.config)


_SOURCE = "our choice: TransGAN layout (Jiang et al. 2021) slimmed, grid attention with 16x16 windows; "
PRESETS: dict[str, BaselinePreset] = {
    "cifar10": BaselinePreset(
        "cifar10",
        32,
        TransGANConfig(32),
        source=_SOURCE + "G widths of TransGAN-CIFAR (1024, 256, 64), depths (1, 2, 2) (TransGAN: 5, 4, 2) "
        "so G is about LadaGAN-sized",
    ),
    "celeba64": BaselinePreset(
        "celeba64",
        64,
        TransGANConfig(
            64,
            g_dims=(1024, 256, 64, 32),
            g_depths=(1, 2, 2, 1),
            g_heads=(4, 4, 4, 2),
            d_patch=2,
            d_dims=(96, 192, 384),
            d_depths=(1, 2, 2),
        ),
        source=_SOURCE + "a fourth G stage at 64x64 (4096 tokens in 16 windows)",
    ),
    "ffhq128": BaselinePreset(
        "ffhq128",
        128,
        TransGANConfig(
            128,
            g_dims=(1024, 256, 128, 64, 32),
            g_depths=(1, 2, 2, 1, 1),
            g_heads=(4, 4, 4, 2, 2),
            d_patch=4,
            d_dims=(96, 192, 384),
            d_depths=(1, 2, 2),
        ),
        training=ladagan_recipe("ffhq128"),
        source=_SOURCE + "five G stages; D patch 4; LadaGAN's ffhq128 recipe",
    ),
    "bedroom256": BaselinePreset(
        "bedroom256",
        256,
        TransGANConfig(
            256,
            g_dims=(1024, 256, 128, 64, 32, 16),
            g_depths=(1, 2, 2, 1, 1, 1),
            g_heads=(4, 4, 4, 2, 2, 1),
            d_patch=4,
            d_dims=(48, 96, 192, 384),
            d_depths=(1, 1, 2, 2),
        ),
        source=_SOURCE + "six G stages; D patch 4",
    ),
}
_TINY_D = {32: (2, (64, 128)), 64: (2, (32, 64, 128)), 128: (4, (32, 64, 128)), 256: (4, (16, 32, 64, 128))}
for _res in (32, 64, 128, 256):
    _n = int(math.log2(_res // 8)) + 1
    _patch, _d_dims = _TINY_D[_res]
    PRESETS[f"tiny{_res}"] = BaselinePreset(
        f"tiny{_res}",
        _res,
        TransGANConfig(
            _res,
            g_dims=(128, 64, 32, 32, 32, 32)[:_n],
            g_depths=(1,) * _n,
            g_heads=(2,) * _n,
            d_patch=_patch,
            d_dims=_d_dims,
            d_depths=(1,) * len(_d_dims),
            d_heads=2,
            mlp_ratio=2,
        ),
        training=TrainingConfig(batch_size=32),
        source=_SOURCE + "small widths for CPU smoke runs and the quick benchmark",
    )

DEFAULT_PRESET_BY_RESOLUTION: dict[int, str] = {32: "cifar10", 64: "celeba64", 128: "ffhq128", 256: "bedroom256"}
# The CPU-sized variant at each resolution (the presets built in the loop above).
TINY_PRESET_BY_RESOLUTION: dict[int, str] = {res: f"tiny{res}" for res in (32, 64, 128, 256)}
