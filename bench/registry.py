"""The model registry: a dict of named models, each with its presets and a builder for (G, D).

Adding a model to the suite is one `ModelSpec` entry here plus one test. The suite knows models only
through this table; the model packages (`ladagan/`, `baselines/`) know nothing of the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from bench.core.errors import UserError


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: name, one-line summary, its presets and how to build G and D from one."""

    name: str
    summary: str
    presets: Mapping[str, Any]  # preset name -> object with .resolution, .training, .source
    build: Callable[[Any], tuple[nn.Module, nn.Module]]
    default_preset_by_resolution: Mapping[int, str]
    kind: str = "ladagan"  # "ladagan" | "ablation" | "baseline"

    def preset(self, name: str | None, resolution: int | None = None) -> Any:
        """Resolve a preset name ('tiny' means the tiny preset at `resolution`; None the default)."""
        if name is None:
            if resolution is None:
                raise UserError(f"model '{self.name}': give --preset or a dataset to pick its resolution")
            if resolution not in self.default_preset_by_resolution:
                known = ", ".join(str(r) for r in sorted(self.default_preset_by_resolution))
                raise UserError(
                    f"model '{self.name}' has no preset for {resolution} px; resolutions with presets: {known}"
                )
            name = self.default_preset_by_resolution[resolution]
        elif name == "tiny":
            if resolution is None:
                raise UserError("preset 'tiny' needs a resolution (from --data or --res)")
            name = f"tiny{resolution}"
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


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (a name may be registered once)."""
    if spec.name in MODELS:
        raise ValueError(f"model '{spec.name}' registered twice")
    MODELS[spec.name] = spec
    return spec


def get_model(name: str) -> ModelSpec:
    """Look a model up by name, or fail with the list of known names."""
    _load_builtin_models()
    if name not in MODELS:
        known = ", ".join(MODELS) or "(none registered)"
        raise UserError(f"model '{name}' is unknown; known: {known}")
    return MODELS[name]


def all_models() -> dict[str, ModelSpec]:
    """Every registered model, built-ins included."""
    _load_builtin_models()
    return dict(MODELS)


_LOADED = False


def _load_builtin_models() -> None:
    """Import the modules that register the built-in models (once; kept lazy so import is cheap)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in _BUILTIN_MODULES:
        __import__(module)


# Modules whose import registers models; a new model family adds its module here.
_BUILTIN_MODULES: list[str] = ["bench.zoo.ladagan", "bench.zoo.ablations", "bench.zoo.baselines"]
