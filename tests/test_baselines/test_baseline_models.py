"""Each baseline at tiny width: right shapes, and one D step and one G step move the weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from baselines import conv, transgan

CASES = [(conv, "tiny32"), (conv, "tiny64"), (transgan, "tiny32"), (transgan, "tiny64")]


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


@pytest.mark.parametrize(("family", "preset"), CASES)
def test_one_d_step_and_one_g_step(family, preset):
    torch.manual_seed(0)
    p = family.PRESETS[preset]
    g, d = family.build(p)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    res = p.resolution
    reals = torch.rand(4, 3, res, res) * 2 - 1

    # D step with R1, which needs double backward through D.
    g0, d0 = _flat(g), _flat(d)
    reals.requires_grad_(True)
    real_logits = d(reals)
    (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
    fakes = g(torch.randn(4, g.z_dim)).detach()
    assert fakes.shape == (4, 3, res, res)
    loss_d = F.softplus(-real_logits).mean() + F.softplus(d(fakes)).mean() + grad.square().sum((1, 2, 3)).mean()
    opt_d.zero_grad()
    loss_d.backward()
    assert all(q.grad is not None for q in d.parameters())
    opt_d.step()
    assert not torch.equal(_flat(d), d0) and torch.equal(_flat(g), g0)

    # G step: only G moves.
    d1 = _flat(d)
    loss_g = F.softplus(-d(g(torch.randn(4, g.z_dim)))).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert not torch.equal(_flat(g), g0)
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    assert torch.equal(_flat(d), d1)


@pytest.mark.parametrize("family", [conv, transgan])
def test_every_preset_builds_with_its_resolution(family):
    for name, p in family.PRESETS.items():
        with torch.device("meta"):
            g, d = family.build(p)
        assert g.img_size == p.resolution, name
        assert family.DEFAULT_PRESET_BY_RESOLUTION[p.resolution] in family.PRESETS


def test_conv_cifar_matches_sngan_resnet_size():
    # SNGAN-ResNet-32 (G 256 ch, D 128 ch, no SN): closed-form counts from the layer shapes.
    def conv_params(cin, cout, k):
        return cin * cout * k * k + cout

    def bn(c):
        return 2 * c

    g_block = bn(256) + conv_params(256, 256, 3) + bn(256) + conv_params(256, 256, 3) + conv_params(256, 256, 1)
    g_expected = (128 * 16 * 256 + 16 * 256) + 3 * g_block + bn(256) + conv_params(256, 3, 3)
    d_first = conv_params(3, 128, 3) + conv_params(128, 128, 3) + conv_params(3, 128, 1)
    d_down = conv_params(128, 128, 3) * 2 + conv_params(128, 128, 1)
    d_plain = conv_params(128, 128, 3) * 2
    d_expected = d_first + d_down + 2 * d_plain + (128 + 1)
    g, d = conv.build(conv.PRESETS["cifar10"])
    assert sum(q.numel() for q in g.parameters()) == g_expected
    assert sum(q.numel() for q in d.parameters()) == d_expected
