"""Registry entry for LadaGAN: the authors' architecture with its presets (see ladagan/presets.py)."""

from __future__ import annotations

import ladagan
from bench.registry import ModelSpec, register

SPEC = register(
    ModelSpec(
        name="ladagan",
        summary="LadaGAN: linear additive-attention Transformer G and D (arXiv 2401.09596)",
        presets=ladagan.PRESETS,
        build=ladagan.build,
        default_preset_by_resolution=ladagan.DEFAULT_PRESET_BY_RESOLUTION,
        kind="ladagan",
    )
)
