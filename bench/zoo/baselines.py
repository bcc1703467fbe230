"""Registry entries for the baseline GANs: the conv GAN and the TransGAN-style grid-attention GAN."""

from __future__ import annotations

from baselines import conv, transgan
from bench.registry import ModelSpec, register

CONV = register(
    ModelSpec(
        name="conv",
        summary="Slim conv GAN, SNGAN-ResNet layout without spectral norm (baselines/conv.py)",
        presets=conv.PRESETS,
        build=conv.build,
        default_preset_by_resolution=conv.DEFAULT_PRESET_BY_RESOLUTION,
        kind="baseline",
    )
)

TRANSGAN = register(
    ModelSpec(
        name="transgan",
        summary="TransGAN-style Transformer GAN with 16x16 grid attention (baselines/transgan.py)",
        presets=transgan.PRESETS,
        build=transgan.build,
        default_preset_by_resolution=transgan.DEFAULT_PRESET_BY_RESOLUTION,
        kind="baseline",
    )
)
