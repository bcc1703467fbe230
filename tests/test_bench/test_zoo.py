"""The registered models: every entry builds, the ablations change only what they claim to change."""

from __future__ import annotations

import pytest
import torch

from bench.metrics.profile import count_params
from bench.registry import all_models, get_model


def _module_tree(module: torch.nn.Module) -> dict[str, str]:
    """Qualified name -> class name of every submodule."""
    return {name: type(m).__name__ for name, m in module.named_modules()}


def test_registry_holds_ladagan_its_ablations_and_the_baselines():
    kinds = {name: spec.kind for name, spec in all_models().items()}
    assert kinds["ladagan"] == "ladagan"
    assert kinds["conv"] == kinds["transgan"] == "baseline"
    for name in ("ladagan-dot", "ladagan-nosln", "ladagan-mlpres", "ladagan-nor1", "ladagan-convd"):
        assert kinds[name] == "ablation"


def test_dot_variant_differs_only_in_attention_modules():
    base, dot = get_model("ladagan").presets["tiny32"], get_model("ladagan-dot").presets["tiny32"]
    tree_base = _module_tree(torch.nn.ModuleList(get_model("ladagan").build(base)))
    tree_dot = _module_tree(torch.nn.ModuleList(get_model("ladagan-dot").build(dot)))
    differing = {k for k in tree_base.keys() | tree_dot.keys() if tree_base.get(k) != tree_dot.get(k)}
    assert differing, "the dot variant must change something"
    for name in differing:
        # Each difference is an attention module or one of its own children (Lada's score layer).
        assert ".attn" in name, name
    attn_classes = {tree_dot[k] for k in differing if k in tree_dot and k.endswith("attn")}
    assert attn_classes == {"DotAttention"}
    # Lada's only extra parameters are the per-head score layers: Linear(D -> H) per attention module.
    g_base, _ = get_model("ladagan").build(base)
    g_dot, _ = get_model("ladagan-dot").build(dot)
    cfg = base.generator
    score_params = sum(d * h + h for d, h in zip(cfg.dims, cfg.heads, strict=True))
    assert count_params(g_base) - count_params(g_dot) == score_params


def test_no_r1_variant_changes_only_the_penalty():
    base, nor1 = get_model("ladagan").presets["celeba64"], get_model("ladagan-nor1").presets["celeba64"]
    assert nor1.training.r1_gamma == 0.0 and base.training.r1_gamma > 0
    assert nor1.generator == base.generator and nor1.discriminator == base.discriminator


def test_switch_variants_flip_one_config_field():
    base = get_model("ladagan").presets["tiny64"].generator
    assert get_model("ladagan-nosln").presets["tiny64"].generator == base.__class__(**{**base.__dict__, "sln": False})
    assert get_model("ladagan-mlpres").presets["tiny64"].generator == base.__class__(
        **{**base.__dict__, "mlp_residual": True}
    )


@pytest.mark.slow
def test_every_registered_preset_generates_its_resolution():
    for spec in all_models().values():
        for preset in spec.presets.values():
            with torch.device("meta"):
                g, d = spec.build(preset)
                z = torch.empty(2, g.z_dim)
                x = g(z)
                logits = d(x)
            assert tuple(x.shape) == (2, 3, preset.resolution, preset.resolution), (spec.name, preset.name)
            assert logits.shape[0] == 2
