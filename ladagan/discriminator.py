"""LadaGAN discriminator: conv stem, FastGAN down blocks to 16x16, one Ladaformer, 25 patch logits."""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from ladagan.blocks import DiscriminatorBlock, DownBlock, PositionalEmbedding
from ladagan.generator import RESOLUTIONS, to_image, to_tokens
from ladagan.init import tf_init_
from ladagan.presets import DiscriminatorConfig


class Discriminator(nn.Module):
    """Maps images (B, 3, R, R) to 5x5 = 25 patch logits (B, 25) at every resolution, as tensorflow/model.py."""

    def __init__(self, cfg: DiscriminatorConfig, init: bool = True) -> None:
        super().__init__()
        _validate(cfg)
        enc = cfg.enc_dims
        self.stem = nn.Sequential(nn.Conv2d(3, enc[0], 3, padding=1, bias=False), nn.LeakyReLU(0.2))
        self.encoder = nn.Sequential(*(DownBlock(a, b, cfg.bn_eps) for a, b in pairwise(enc)))
        # The reference hard-codes 256 tokens: the encoder always ends at 16x16.
        self.transformer = cfg.transformer
        if cfg.transformer:
            self.pos_16 = PositionalEmbedding(256, enc[-1])
            self.block_16 = DiscriminatorBlock(enc[-1], cfg.heads, cfg.mlp_dim, cfg.attention, cfg.ln_eps)
        self.conv_8 = nn.Conv2d(4 * enc[-1], cfg.out_dims[0], 3, padding=1)  # linear, with bias
        self.logits = nn.Sequential(
            nn.Conv2d(cfg.out_dims[0], cfg.out_dims[1], 1, bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv2d(cfg.out_dims[1], 1, 4, bias=False),  # 'valid': 8x8 -> 5x5
        )
        if init:
            tf_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score images x (B, 3, R, R); returns logits (B, 25)."""
        x = self.encoder(self.stem(x))
        if self.transformer:
            x = to_image(self.block_16(self.pos_16(to_tokens(x))), 16)
        x = self.conv_8(F.pixel_unshuffle(x, 2))
        return self.logits(x).flatten(1)


def _validate(cfg: DiscriminatorConfig) -> None:
    """Refuse discriminator shapes the architecture cannot build, naming the field to fix."""
    if cfg.img_size not in RESOLUTIONS:
        raise ValueError(f"discriminator img_size {cfg.img_size} is unsupported; use one of {RESOLUTIONS}")
    blocks = {32: 1, 64: 2, 128: 3, 256: 4}[cfg.img_size]
    if len(cfg.enc_dims) != blocks + 1:
        raise ValueError(
            f"discriminator enc_dims {cfg.enc_dims} must have {blocks + 1} entries at {cfg.img_size} px "
            f"(stem + {blocks} down blocks to reach 16x16)"
        )
