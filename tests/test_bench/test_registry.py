"""Preset resolution in the registry: defaults by resolution, the 'tiny' shorthand, clear errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from torch import nn

from bench.core.errors import UserError
from bench.zoo.spec import ModelSpec


@dataclass(frozen=True)
class _P:
    name: str
    resolution: int
    training: object = None
    source: str = "test"


def _spec() -> ModelSpec:
    presets = {
        "big32": _P("big32", 32),
        "big64": _P("big64", 64),
        "tiny32": _P("tiny32", 32),
        "tiny64": _P("tiny64", 64),
    }
    return ModelSpec(
        name="toy",
        summary="toy",
        presets=presets,
        build=lambda p: (nn.Identity(), nn.Identity()),
        default_preset_by_resolution={32: "big32", 64: "big64"},
        tiny_preset_by_resolution={32: "tiny32", 64: "tiny64"},
    )


def test_default_preset_follows_resolution():
    assert _spec().preset(None, 64).name == "big64"


def test_tiny_resolves_to_the_resolution():
    assert _spec().preset("tiny", 32).name == "tiny32"


def test_resolution_mismatch_is_refused():
    with pytest.raises(UserError, match="is for 32 px but the data is 64 px"):
        _spec().preset("big32", 64)


def test_unknown_preset_lists_known():
    with pytest.raises(UserError, match="known: big32, big64, tiny32, tiny64"):
        _spec().preset("huge", None)


def test_unsupported_resolution_lists_supported():
    with pytest.raises(UserError, match="resolutions with presets: 32, 64"):
        _spec().preset(None, 128)
