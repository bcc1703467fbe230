"""Parameter counts: every preset and ablation equals the closed form; the 64-px default equals the authors' port."""

from __future__ import annotations

import pytest
import torch
from lada_counts import discriminator_params, generator_params

from ladagan import PRESETS, build

# Measured on the authors' PyTorch port (milmor/LadaGAN pytorch/model.py @ eb3ed9c) built from its
# pytorch/config.py (64 px): sum(p.numel() for p in model.parameters()).
AUTHORS_PORT_G_64 = 19_900_351
AUTHORS_PORT_D_64 = 7_004_356

VARIANTS = [{}, {"attention": "dot"}, {"sln": False}, {"mlp_residual": True}]


def count(module: torch.nn.Module) -> int:
    """All parameters of a module."""
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")
@pytest.mark.parametrize("name", list(PRESETS))
def test_counts_equal_closed_form(name: str, variant: dict) -> None:
    preset = PRESETS[name].with_overrides(**variant)
    with torch.device("meta"):
        generator, discriminator = build(preset)
    assert count(generator) == generator_params(preset.generator)
    assert count(discriminator) == discriminator_params(preset.discriminator)


def test_default_64px_matches_authors_port() -> None:
    preset = PRESETS["celeba64"]
    assert generator_params(preset.generator) == AUTHORS_PORT_G_64
    assert discriminator_params(preset.discriminator) == AUTHORS_PORT_D_64
    with torch.device("meta"):
        generator, discriminator = build(preset)
    assert (count(generator), count(discriminator)) == (AUTHORS_PORT_G_64, AUTHORS_PORT_D_64)
