"""A slim convolutional GAN baseline in the SNGAN-ResNet style (Miyato et al. 2018), without spectral norm.

Our documented choices: ResNet up-blocks with BatchNorm in G and ResNet down-blocks in D, as SNGAN's
ResNet architecture; no spectral normalisation, because every model in the suite is regularised the
same way (R1 on augmented reals, non-saturating loss, DiffAugment); a tanh output as SNGAN. G starts
from a 4x4 grid and doubles per block; D ends with a global sum pool and one linear logit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.common import BaselinePreset, ladagan_recipe
from ladagan.presets import TrainingConfig


@dataclass(frozen=True)
class ConvGANConfig:
    """Widths of the conv GAN: one G width per up-block (4x4 -> img) and one D width per down-block."""

    img_size: int = 32
    z_dim: int = 128
    g_channels: tuple[int, ...] = (256, 256, 256)
    d_channels: tuple[int, ...] = (128, 128)
    d_extra_blocks: int = 2  # resolution-keeping D blocks after the down-blocks (SNGAN-32 has 2)


class GenBlock(nn.Module):
    """Residual up-block: BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3, shortcut upsample-conv1x1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class DiscBlock(nn.Module):
    """Residual D block: (ReLU)-conv3x3-ReLU-conv3x3 [-avgpool], shortcut conv1x1 [-avgpool]."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The first block sees raw pixels, so (as SNGAN's "optimized" block) it skips the leading ReLU.
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.first:  # pool before the 1x1 conv on pixels, as SNGAN
            s = self.skip(F.avg_pool2d(s, 2)) if self.down else self.skip(s)
        else:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        if self.down:
            h = F.avg_pool2d(h, 2)
        return h + s


class ConvGenerator(nn.Module):
    """z -> 4x4 grid -> residual up-blocks to the image size -> BN-ReLU-conv3x3-tanh."""

    def __init__(self, cfg: ConvGANConfig):
        super().__init__()
        n_up = int(math.log2(cfg.img_size // 4))
        if len(cfg.g_channels) != n_up or 4 * 2**n_up != cfg.img_size:
            raise ValueError(
                f"{cfg.img_size} px needs {n_up} G widths (4x4 doubled {n_up} times), got {cfg.g_channels}"
            )
        self.z_dim, self.img_size = cfg.z_dim, cfg.img_size
        self.c0 = cfg.g_channels[0]
        self.fc = nn.Linear(cfg.z_dim, 16 * self.c0)
        widths = (self.c0, *cfg.g_channels)
        self.blocks = nn.Sequential(*(GenBlock(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)))
        self.bn = nn.BatchNorm2d(widths[-1])
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], self.c0, 4, 4)
        return torch.tanh(self.to_rgb(F.relu(self.bn(self.blocks(x)))))


class ConvDiscriminator(nn.Module):
    """Residual down-blocks, extra blocks, ReLU, global sum pool, one linear logit per image."""

    def __init__(self, cfg: ConvGANConfig):
        super().__init__()
        widths = (3, *cfg.d_channels)
        blocks = [
            DiscBlock(a, b, down=True, first=(i == 0))
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True))
        ]
        blocks += [DiscBlock(widths[-1], widths[-1], down=False) for _ in range(cfg.d_extra_blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(widths[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.fc(h)


def build(preset: BaselinePreset) -> tuple[ConvGenerator, ConvDiscriminator]:
    """Build (G, D) for a conv-GAN preset with PyTorch's default initialisation."""
    return ConvGenerator(preset.config), ConvDiscriminator(preset.config)


_SOURCE = "our choice: SNGAN-ResNet layout (Miyato et al. 2018) without spectral norm; "
_TINY_TRAINING = TrainingConfig(batch_size=32)


def _d_widths(res: int, widths: tuple[int, ...]) -> tuple[int, ...]:
    """D widths for `res`: down-blocks until 8x8 (SNGAN-32 stops at 8x8 and keeps 2 blocks there)."""
    n_down = int(math.log2(res // 8))
    return widths[:n_down] if len(widths) >= n_down else widths + (widths[-1],) * (n_down - len(widths))


PRESETS: dict[str, BaselinePreset] = {
    "cifar10": BaselinePreset(
        "cifar10",
        32,
        ConvGANConfig(32, g_channels=(256, 256, 256), d_channels=(128, 128)),
        source=_SOURCE + "widths of SNGAN-ResNet-32 (G 256, D 128)",
    ),
    "celeba64": BaselinePreset(
        "celeba64",
        64,
        ConvGANConfig(64, g_channels=(512, 256, 128, 64), d_channels=(64, 128, 256)),
        source=_SOURCE + "halving widths per up-block, D doubling to 256 at 8x8",
    ),
    "ffhq128": BaselinePreset(
        "ffhq128",
        128,
        ConvGANConfig(128, g_channels=(512, 512, 256, 128, 64), d_channels=(64, 128, 256, 512)),
        training=ladagan_recipe("ffhq128"),
        source=_SOURCE + "one more block per side than 64 px; LadaGAN's ffhq128 recipe",
    ),
    "bedroom256": BaselinePreset(
        "bedroom256",
        256,
        ConvGANConfig(256, g_channels=(512, 512, 256, 128, 64, 32), d_channels=(32, 64, 128, 256, 512)),
        source=_SOURCE + "one more block per side than 128 px",
    ),
}
for _res in (32, 64, 128, 256):
    _n_up = int(math.log2(_res // 4))
    PRESETS[f"tiny{_res}"] = BaselinePreset(
        f"tiny{_res}",
        _res,
        ConvGANConfig(_res, g_channels=(64,) * _n_up, d_channels=_d_widths(_res, (32, 64))),
        training=_TINY_TRAINING,
        source=_SOURCE + "small widths for CPU smoke runs and the quick benchmark",
    )

DEFAULT_PRESET_BY_RESOLUTION: dict[int, str] = {32: "cifar10", 64: "celeba64", 128: "ffhq128", 256: "bedroom256"}
# The CPU-sized variant at each resolution (the presets built in the loop above).
TINY_PRESET_BY_RESOLUTION: dict[int, str] = {res: f"tiny{res}" for res in (32, 64, 128, 256)}
