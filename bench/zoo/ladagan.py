"""Registry entry for LadaGAN: the authors' architecture with its presets (see ladagan/presets.py)."""

from __future__ import annotations

import ladagan
from bench.zoo.spec import ModelSpec, from_package

# Default budgets: the images the authors' released checkpoints had seen (milmor/LadaGAN
# tensorflow/utils.py). Every model gets the same at each dataset preset, so a default comparison
# is at equal kimg.
REFERENCE_KIMG_BY_PRESET = {"cifar10": 68_096.0, "celeba64": 72_192.0, "ffhq128": 24_064.0}

ENTRIES: list[ModelSpec] = [
    from_package(
        "ladagan",
        "LadaGAN: linear additive-attention Transformer G and D (arXiv 2401.09596)",
        ladagan,
        "ladagan",
        default_kimg_by_preset=REFERENCE_KIMG_BY_PRESET,
    ),
]
