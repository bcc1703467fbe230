"""LadaGAN generator: three Ladaformer stages (8x8, 16x16, 32x32 tokens), then patches or a conv decoder."""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from ladagan.blocks import DecoderStage, GeneratorBlock, PositionalEmbedding
from ladagan.init import tf_init_
from ladagan.presets import GeneratorConfig

RESOLUTIONS = (32, 64, 128, 256)


def to_image(tokens: torch.Tensor, side: int) -> torch.Tensor:
    """Row-major tokens (B, side*side, C) to a feature map (B, C, side, side)."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, side, side)


def to_tokens(image: torch.Tensor) -> torch.Tensor:
    """A feature map (B, C, H, W) to row-major tokens (B, H*W, C)."""
    return image.flatten(2).transpose(1, 2)


class Generator(nn.Module):
    """Maps z (B, z_dim) to an image (B, 3, R, R) with linear output (no tanh), as tensorflow/model.py."""

    def __init__(self, cfg: GeneratorConfig, init: bool = True) -> None:
        super().__init__()
        _validate(cfg)
        self.z_dim, self.img_size = cfg.z_dim, cfg.img_size
        d8, d16, d32 = cfg.dims
        block = dict(
            z_dim=cfg.z_dim, attention=cfg.attention, sln=cfg.sln, mlp_residual=cfg.mlp_residual, eps=cfg.ln_eps
        )
        self.init = nn.Linear(cfg.z_dim, 64 * d8, bias=False)
        self.pos_8 = PositionalEmbedding(64, d8)
        self.block_8 = GeneratorBlock(d8, cfg.heads[0], cfg.mlp_dims[0], **block)
        # Pixel shuffle quarters the channels; the 3x3 conv then sets the next stage's width.
        self.conv_8 = nn.Conv2d(d8 // 4, d16, 3, padding=1)
        self.pos_16 = PositionalEmbedding(256, d16)
        self.block_16 = GeneratorBlock(d16, cfg.heads[1], cfg.mlp_dims[1], **block)
        self.conv_16 = nn.Conv2d(d16 // 4, d32, 3, padding=1)
        self.pos_32 = PositionalEmbedding(1024, d32)
        self.block_32 = GeneratorBlock(d32, cfg.heads[2], cfg.mlp_dims[2], **block)
        self.patch_size = cfg.img_size // 32
        if cfg.dec_dims is None:  # patch mode: pixel shuffle by img/32, then the RGB conv
            self.decoder = nn.PixelShuffle(self.patch_size)
            rgb_in = d32 // self.patch_size**2
        else:
            widths = (d32, *cfg.dec_dims)
            self.decoder = nn.Sequential(*(DecoderStage(a, b, cfg.bn_eps) for a, b in pairwise(widths)))
            rgb_in = widths[-1]
        self.to_rgb = nn.Conv2d(rgb_in, 3, 3, padding=1)
        if init:
            tf_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Generate images (B, 3, img_size, img_size) from latents z (B, z_dim)."""
        x = self.pos_8(self.init(z).reshape(z.shape[0], 64, -1))
        x = self.block_8(x, z)
        x = self.conv_8(F.pixel_shuffle(to_image(x, 8), 2))
        x = self.block_16(self.pos_16(to_tokens(x)), z)
        x = self.conv_16(F.pixel_shuffle(to_image(x, 16), 2))
        x = self.block_32(self.pos_32(to_tokens(x)), z)
        return self.to_rgb(self.decoder(to_image(x, 32)))


def _validate(cfg: GeneratorConfig) -> None:
    """Refuse generator shapes the architecture cannot build, naming the field to fix."""
    if cfg.img_size not in RESOLUTIONS:
        raise ValueError(f"generator img_size {cfg.img_size} is unsupported; use one of {RESOLUTIONS}")
    if cfg.dims[0] % 4 or cfg.dims[1] % 4:
        raise ValueError(f"generator dims {cfg.dims}: the first two must be divisible by 4 (pixel shuffle)")
    patch = cfg.img_size // 32
    if cfg.dec_dims is None and cfg.dims[2] % patch**2:
        raise ValueError(
            f"generator dims[2]={cfg.dims[2]} cannot be split into {patch}x{patch} patches at "
            f"{cfg.img_size} px; raise it to a multiple of {patch**2} or set dec_dims"
        )
    if cfg.dec_dims is not None and len(cfg.dec_dims) != int(math.log2(patch)):
        raise ValueError(
            f"generator dec_dims {cfg.dec_dims} must have {int(math.log2(patch))} entries "
            f"(one x2 stage from 32 px to {cfg.img_size} px)"
        )
