"""The training step's pieces against independent computations: R1, the D loss, the EMA update."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from emacheck import SmallG, follow_ema
from gradcalls import recorded_grad_calls
from torch import nn

import ladagan
from bench.train.augment import diff_augment
from bench.train.ema import ema_state_dict, load_ema_state_dict, make_ema
from bench.train.step import StepContext, d_step, g_step, r1_penalty

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


class QuadraticD(nn.Module):
    """D(x) = (x*x) @ A: d sum(D(x)) / dx_i = 2 x_i * A.sum(1), a closed form per sample."""

    def __init__(self, pixels: int, logits: int = 25):
        """A random float64 A of shape (pixels, logits)."""
        super().__init__()
        self.A = nn.Parameter(torch.randn(pixels, logits, dtype=torch.float64))

    def forward(self, x):
        """(B, C, H, W) -> (B, logits)."""
        return (x * x).flatten(1) @ self.A


def test_r1_matches_closed_form_gradient():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    D = QuadraticD(3 * 4 * 4)
    gamma = 0.37
    a = D.A.detach().sum(1)  # (pixels,)
    per_sample = ((2 * x.detach().flatten(1) * a) ** 2).sum(1)  # ||grad_i||^2
    expected = gamma * per_sample.mean()
    assert torch.allclose(r1_penalty(D(x), x, gamma), expected, rtol=1e-12)


def test_r1_on_ladagan_d_equals_per_sample_autograd():
    # In eval mode BatchNorm uses running stats, so each sample's gradient can be taken alone.
    torch.manual_seed(0)
    _, D = ladagan.build(ladagan.PRESETS["tiny32"])
    D = D.double().eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    got = r1_penalty(D(x), x, r1_gamma=1e-2)
    norms = []
    for i in range(2):
        xi = x[i : i + 1].detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(D(xi).sum(), xi)
        norms.append(g.pow(2).sum())
    assert torch.allclose(got, 1e-2 * torch.stack(norms).mean(), rtol=1e-10)
    # R1 must be differentiable w.r.t. D's weights (it is part of D's loss).
    assert torch.autograd.grad(got, next(D.parameters()))[0].abs().sum() > 0


def _ctx(G, D, seed: int, r1_gamma: float) -> StepContext:
    """A full-precision step context whose augmentation draws from a generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    return StepContext(
        G=G,
        D=D,
        opt_g=torch.optim.Adam(G.parameters(), lr=1e-3),
        opt_d=torch.optim.Adam(D.parameters(), lr=1e-3),
        ema=make_ema(G, 0.9),
        G_plain=G,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        augment=lambda x: diff_augment(x, "color,translation", gen),
        r1_gamma=r1_gamma,
        amp_dtype=None,
        device_type="cpu",
    )


def test_d_step_loss_is_softplus_on_augmented_inputs_plus_r1():
    torch.manual_seed(0)
    G, D = ladagan.build(ladagan.PRESETS["tiny32"])
    D_before, G_before = copy.deepcopy(D), copy.deepcopy(G)
    reals = torch.rand(4, 3, 32, 32) * 2 - 1
    z = torch.randn(4, G.z_dim)
    out = d_step(_ctx(G, D, seed=7, r1_gamma=0.5), reals, z)

    # Independent recomputation with the same augmentation draws (reals first, then fakes).
    gen = torch.Generator().manual_seed(7)
    reals_aug = diff_augment(reals, "color,translation", gen).requires_grad_(True)
    with torch.no_grad():
        fakes = G_before(z)
    fakes_aug = diff_augment(fakes, "color,translation", gen)
    real_logits = D_before(reals_aug)
    (grad,) = torch.autograd.grad(real_logits.sum(), reals_aug)
    r1 = 0.5 * grad.pow(2).sum(dim=(1, 2, 3)).mean()
    fake_logits = D_before(fakes_aug)
    expected = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean() + r1
    assert torch.allclose(out["r1"], r1, rtol=1e-5)
    assert torch.allclose(out["loss_d"], expected, rtol=1e-5)
    # D moved, G did not (the D step must not touch G).
    assert any(not torch.equal(a, b) for a, b in zip(D.parameters(), D_before.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G_before.parameters(), strict=True))


def test_g_step_updates_g_not_d_and_moves_ema():
    torch.manual_seed(1)
    G, D = ladagan.build(ladagan.PRESETS["tiny32"])
    ctx = _ctx(G, D, seed=3, r1_gamma=0.0)
    D_before, G_before = copy.deepcopy(D.state_dict()), copy.deepcopy(G.state_dict())
    out = g_step(ctx, torch.randn(4, G.z_dim))
    assert torch.isfinite(out["loss_g"]) and out["grad_norm_g"] > 0
    assert all(
        torch.equal(D.state_dict()[k], v) for k, v in D_before.items() if "running" not in k and "num_batches" not in k
    )
    name, w = next(iter(G.named_parameters()))
    assert not torch.equal(w, G_before[name])
    ema_w = ctx.ema.module.state_dict()[name]
    assert torch.allclose(ema_w, 0.9 * G_before[name] + 0.1 * w.detach(), rtol=1e-6, atol=1e-7)


def test_ema_starts_as_copy_and_follows_its_formula_every_step():
    torch.manual_seed(0)
    G = SmallG()
    decay = 0.9
    copied = make_ema(G, decay)
    assert all(torch.equal(a, b) for a, b in zip(ema_state_dict(copied).values(), G.state_dict().values(), strict=True))
    ema = follow_ema(ema_state_dict(copied), G, decay, steps=3)
    # The state dict is the plain generator's (no AveragedModel prefix), and it round-trips.
    assert set(ema_state_dict(ema)) == set(G.state_dict())
    other = make_ema(SmallG(), decay)
    load_ema_state_dict(other, ema_state_dict(ema))
    assert all(
        torch.equal(a, b) for a, b in zip(ema_state_dict(other).values(), ema_state_dict(ema).values(), strict=True)
    )


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_ema_decay_extremes(decay):
    G = SmallG()
    ema = make_ema(G, decay)
    start = copy.deepcopy(G.state_dict())
    with torch.no_grad():
        G.lin.weight.add_(1.0)
    ema.update_parameters(G)
    target = G.state_dict() if decay == 0.0 else start
    assert torch.allclose(ema_state_dict(ema)["lin.weight"], target["lin.weight"])


def test_r1_off_skips_the_penalty_and_its_double_backward():
    # The R1-off ablation: same adversarial loss, zero penalty, and no gradient w.r.t. the reals taken.
    torch.manual_seed(0)
    G, D = ladagan.build(ladagan.PRESETS["tiny32"])
    D_before = copy.deepcopy(D)
    reals = torch.rand(4, 3, 32, 32) * 2 - 1
    z = torch.randn(4, G.z_dim)
    with recorded_grad_calls() as calls:
        out = d_step(_ctx(G, D, seed=7, r1_gamma=0.0), reals, z)
    assert calls == []
    assert out["r1"].item() == 0.0
    gen = torch.Generator().manual_seed(7)
    reals_aug = diff_augment(reals, "color,translation", gen)
    with torch.no_grad():
        fakes_aug = diff_augment(G(z), "color,translation", gen)
        expected = F.softplus(-D_before(reals_aug)).mean() + F.softplus(D_before(fakes_aug)).mean()
    assert torch.allclose(out["loss_d"], expected, rtol=1e-5)
