"""LadaGAN (Morales-Juarez & Fuentes-Pineda, arXiv 2401.09596), faithful to the authors' code."""

from ladagan.presets import (
    DEFAULT_PRESET_BY_RESOLUTION,
    PRESETS,
    DiscriminatorConfig,
    GeneratorConfig,
    Preset,
    TrainingConfig,
)

__all__ = [
    "DEFAULT_PRESET_BY_RESOLUTION",
    "PRESETS",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "Preset",
    "TrainingConfig",
]
