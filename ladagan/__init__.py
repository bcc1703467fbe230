"""LadaGAN (Morales-Juarez & Fuentes-Pineda, arXiv 2401.09596), faithful to the authors' code."""

from ladagan.attention import DotAttention, LadaAttention
from ladagan.discriminator import Discriminator
from ladagan.generator import Generator
from ladagan.presets import (
    DEFAULT_PRESET_BY_RESOLUTION,
    PRESETS,
    TINY_PRESET_BY_RESOLUTION,
    DiscriminatorConfig,
    GeneratorConfig,
    Preset,
    TrainingConfig,
)


def build(preset: Preset, init: bool = True) -> tuple[Generator, Discriminator]:
    """Fresh (G, D) for a preset, TF-style initialised (init=False skips it, e.g. to count parameters)."""
    return Generator(preset.generator, init=init), Discriminator(preset.discriminator, init=init)


__all__ = [
    "DEFAULT_PRESET_BY_RESOLUTION",
    "PRESETS",
    "TINY_PRESET_BY_RESOLUTION",
    "DiscriminatorConfig",
    "DotAttention",
    "Generator",
    "GeneratorConfig",
    "LadaAttention",
    "Preset",
    "TrainingConfig",
    "build",
]
