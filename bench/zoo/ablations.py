"""Registry entries for LadaGAN ablations: each changes exactly one thing of the authors' model."""

from __future__ import annotations

from dataclasses import replace

import ladagan
from bench.zoo.ladagan import REFERENCE_KIMG_BY_PRESET
from bench.zoo.spec import ModelSpec


def _variant_presets(note: str, **changes: object) -> dict[str, ladagan.Preset]:
    """Every LadaGAN preset with `changes` applied to G and D configs, its source saying so."""
    return {
        name: replace(p.with_overrides(**changes), source=f"{note}; otherwise {p.source}")
        for name, p in ladagan.PRESETS.items()
    }


def _no_r1_presets() -> dict[str, ladagan.Preset]:
    """Every LadaGAN preset with the R1 penalty switched off."""
    return {
        name: replace(p, training=replace(p.training, r1_gamma=0.0), source=f"R1 off; otherwise {p.source}")
        for name, p in ladagan.PRESETS.items()
    }


_VARIANTS = {
    "ladagan-dot": (
        "LadaGAN with Lada attention replaced by multi-head dot-product attention (same projections)",
        _variant_presets("dot-product attention in G and D", attention="dot"),
    ),
    "ladagan-nosln": (
        "LadaGAN with plain (affine) LayerNorm instead of self-modulated LayerNorm in G",
        _variant_presets("plain LayerNorm instead of SLN in G", sln=False),
    ),
    "ladagan-mlpres": (
        "LadaGAN with a residual around the G block's MLP (not in the reference)",
        _variant_presets("residual around the G block MLP", mlp_residual=True),
    ),
    "ladagan-nor1": ("LadaGAN trained without the R1 penalty", _no_r1_presets()),
    "ladagan-convd": (
        "LadaGAN with a convolution-only D (no positional embedding + Ladaformer at 16x16)",
        _variant_presets("conv-only D (Ladaformer removed)", transformer=False),
    ),
}

ENTRIES: list[ModelSpec] = [
    ModelSpec(
        name=name,
        summary=summary,
        presets=presets,
        build=ladagan.build,
        default_preset_by_resolution=ladagan.DEFAULT_PRESET_BY_RESOLUTION,
        tiny_preset_by_resolution=ladagan.TINY_PRESET_BY_RESOLUTION,
        default_kimg_by_preset=REFERENCE_KIMG_BY_PRESET,
        kind="ablation",
    )
    for name, (summary, presets) in _VARIANTS.items()
]
