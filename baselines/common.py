"""Pieces the baselines share: the preset record and TF-free initialisation helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ladagan.presets import PRESETS as LADAGAN_PRESETS
from ladagan.presets import TrainingConfig


@dataclass(frozen=True)
class BaselinePreset:
    """A named baseline configuration: architecture config, the shared training recipe and provenance."""

    name: str
    resolution: int
    config: Any
    # The same recipe as LadaGAN at this size, so a comparison differs only in the model.
    training: TrainingConfig = field(default_factory=TrainingConfig)
    source: str = ""


def ladagan_recipe(preset_name: str) -> TrainingConfig:
    """LadaGAN's training recipe at a preset (batch, optimizer, augmentation, bCR), shared by a baseline."""
    return LADAGAN_PRESETS[preset_name].training
