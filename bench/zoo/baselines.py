"""Registry entries for the baseline GANs: the conv GAN and the TransGAN-style grid-attention GAN."""

from __future__ import annotations

from baselines import conv, transgan
from bench.zoo.ladagan import REFERENCE_KIMG_BY_PRESET
from bench.zoo.spec import ModelSpec, from_package

ENTRIES: list[ModelSpec] = [
    from_package(
        "conv",
        "Slim conv GAN, SNGAN-ResNet layout without spectral norm (baselines/conv.py)",
        conv,
        "baseline",
        default_kimg_by_preset=REFERENCE_KIMG_BY_PRESET,
    ),
    from_package(
        "transgan",
        "TransGAN-style Transformer GAN with 16x16 grid attention (baselines/transgan.py)",
        transgan,
        "baseline",
        default_kimg_by_preset=REFERENCE_KIMG_BY_PRESET,
    ),
]
