"""What a registry entry is: a model's presets (a typed protocol), its builder and its defaults.

The suite reads a model only through these fields: a preset's resolution and training recipe,
which preset a resolution gets by default and which one is its tiny (CPU-sized) variant, the
default budget per preset, and a builder returning (G, D) where G has an integer `z_dim`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from torch import nn

from bench.core.errors import UserError

BUILT_IN = "ladabench"  # the package of the models in bench/zoo; plugins carry their distribution's name and version
DEFAULT_KIMG = 10_000.0  # a preset with no declared budget
DEFAULT_TINY_KIMG = 100.0  # tiny presets are for smoke runs and the CPU quick benchmark


class TrainingRecipe(Protocol):
    """The training recipe a preset carries (what `TrainOptions` takes its recipe defaults from)."""

    batch_size: int
    lr_g: float
    lr_d: float
    betas: tuple[float, float]
    adam_eps: float
    r1_gamma: float
    ema_decay: float
    augment: str


class Preset(Protocol):
    """A named, complete configuration of a model at one resolution."""

    name: str
    resolution: int
    training: TrainingRecipe
    source: str  # provenance: the authors' configuration or our choice, with the reason


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: name, one-line summary, presets, builder and defaults."""

    name: str
    summary: str
    presets: Mapping[str, Any]  # preset name -> an object with the `Preset` fields
    build: Callable[[Any], tuple[nn.Module, nn.Module]]
    default_preset_by_resolution: Mapping[int, str]
    tiny_preset_by_resolution: Mapping[int, str] = field(default_factory=dict)
    default_kimg_by_preset: Mapping[str, float] = field(default_factory=dict)
    kind: str = "ladagan"  # "ladagan" | "ablation" | "baseline" (a plugin may name its own)
    package: str = BUILT_IN  # where the entry came from; the registry sets it for plugins from their entry point

    def preset(self, name: str | None, resolution: int | None = None) -> Preset:
        """Resolve a preset name ('tiny' means the tiny preset at `resolution`; None the default)."""
        if name is None:
            if resolution is None:
                raise UserError(f"model '{self.name}': give --preset or a dataset to pick its resolution")
            name = self._by_resolution(self.default_preset_by_resolution, resolution)
        elif name == "tiny":
            if resolution is None:
                raise UserError("preset 'tiny' needs a resolution (from --data or --res)")
            name = self._by_resolution(self.tiny_preset_by_resolution, resolution)
        if name not in self.presets:
            known = ", ".join(self.presets)
            raise UserError(f"preset '{name}' is unknown for model '{self.name}'; known: {known} (or 'tiny')")
        chosen = self.presets[name]
        if resolution is not None and chosen.resolution != resolution:
            raise UserError(
                f"preset '{name}' is for {chosen.resolution} px but the data is {resolution} px; "
                f"pick a {resolution}-px preset or 'tiny'"
            )
        return chosen

    def _by_resolution(self, table: Mapping[int, str], resolution: int) -> str:
        """The preset a table names for a resolution, or a UserError listing the resolutions it covers."""
        if resolution not in table:
            known = ", ".join(str(r) for r in sorted(table))
            raise UserError(f"model '{self.name}' has no preset for {resolution} px; resolutions with presets: {known}")
        return table[resolution]

    def is_tiny(self, preset_name: str) -> bool:
        """Whether a preset is one of the model's CPU-sized variants."""
        return preset_name in self.tiny_preset_by_resolution.values()

    def default_total_kimg(self, preset_name: str) -> float:
        """The budget a preset trains for when the user gives neither --kimg nor --minutes."""
        if self.is_tiny(preset_name):
            return DEFAULT_TINY_KIMG
        return self.default_kimg_by_preset.get(preset_name, DEFAULT_KIMG)

    def build_models(self, preset: Preset) -> tuple[nn.Module, nn.Module]:
        """(G, D) for a preset; G must say its latent width (`z_dim`), which training and metrics sample."""
        G, D = self.build(preset)
        if not isinstance(getattr(G, "z_dim", None), int):
            raise TypeError(
                f"model '{self.name}': its generator has no integer `z_dim`; set it in the model's __init__"
            )
        return G, D


def from_package(name: str, summary: str, package: ModuleType, kind: str, **defaults: Any) -> ModelSpec:
    """An entry for a model package exporting PRESETS, build, DEFAULT_ and TINY_PRESET_BY_RESOLUTION."""
    return ModelSpec(
        name=name,
        summary=summary,
        presets=package.PRESETS,
        build=package.build,
        default_preset_by_resolution=package.DEFAULT_PRESET_BY_RESOLUTION,
        tiny_preset_by_resolution=package.TINY_PRESET_BY_RESOLUTION,
        kind=kind,
        **defaults,
    )
