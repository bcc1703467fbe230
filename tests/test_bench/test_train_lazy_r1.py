"""Lazy R1 (`--r1-interval K`): D's gradient against a separate autograd computation of each term.

A tiny float64 D with no BatchNorm and identity augmentation keeps the hand computation exact:
the adversarial gradient and the R1 gradient are each taken on their own with torch.autograd from a
copy of D before the step, and the step's D gradient must be their sum (R1 weighted K x gamma) on
R1 iterations and the adversarial gradient alone on the others.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from gradcalls import recorded_grad_calls
from torch import nn

from bench.train.ema import make_ema
from bench.train.step import StepContext, d_step, train_step

GAMMA, BATCH, PIXELS = 0.3, 3, 8


pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


class TinyD(nn.Module):
    """A two-layer critic with a smooth nonlinearity, so R1 depends on its weights non-trivially."""

    def __init__(self):
        """Random float64 weights."""
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, dtype=torch.float64)
        self.head = nn.Linear(4 * PIXELS * PIXELS, 2, dtype=torch.float64)

    def forward(self, x):
        """(B, 3, 8, 8) -> (B, 2) logits."""
        return self.head(torch.tanh(self.conv(x)).flatten(1))


class TinyG(nn.Module):
    """z (B, 5) -> images (B, 3, 8, 8)."""

    z_dim = 5

    def __init__(self):
        """One float64 linear layer."""
        super().__init__()
        self.lin = nn.Linear(5, 3 * PIXELS * PIXELS, dtype=torch.float64)

    def forward(self, z):
        """Images in [-1, 1]."""
        return torch.tanh(self.lin(z)).view(-1, 3, PIXELS, PIXELS)


def _ctx(G, D, r1_interval: int, step: int) -> StepContext:
    """A float64 step context without augmentation, at iteration `step`."""
    return StepContext(
        G=G,
        D=D,
        opt_g=torch.optim.Adam(G.parameters(), lr=1e-3),
        opt_d=torch.optim.Adam(D.parameters(), lr=1e-3),
        ema=make_ema(G, 0.9),
        G_plain=G,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        augment=lambda x: x,
        r1_gamma=GAMMA,
        amp_dtype=None,
        device_type="cpu",
        r1_interval=r1_interval,
        step=step,
    )


def _separate_gradients(D, reals, fakes) -> tuple[list, list]:
    """(adversarial gradient, gamma * R1 gradient) w.r.t. D's parameters, each from its own autograd pass."""
    params = list(D.parameters())
    adversarial = F.softplus(-D(reals)).mean() + F.softplus(D(fakes)).mean()
    adv_grad = torch.autograd.grad(adversarial, params)
    x = reals.clone().requires_grad_(True)
    (input_grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    penalty = GAMMA * input_grad.square().sum(dim=(1, 2, 3)).mean()
    # The head's bias does not change the input gradient: its R1 gradient is zero.
    return list(adv_grad), list(torch.autograd.grad(penalty, params, allow_unused=True, materialize_grads=True))


def _setup(seed: int):
    """G, D, reals, z and the fakes G makes from z (before any step)."""
    torch.manual_seed(seed)
    G, D = TinyG(), TinyD()
    reals = torch.rand(BATCH, 3, PIXELS, PIXELS, dtype=torch.float64) * 2 - 1
    z = torch.randn(BATCH, G.z_dim, dtype=torch.float64)
    with torch.no_grad():
        fakes = G(z)
    return G, D, reals, z, fakes


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_lazy_r1_gradient_is_k_times_r1_on_its_steps_and_none_between(step):
    G, D, reals, z, fakes = _setup(seed=step)
    adv_grad, r1_grad = _separate_gradients(copy.deepcopy(D), reals, fakes)
    with recorded_grad_calls() as calls:
        out = d_step(_ctx(G, D, r1_interval=2, step=step), reals, z)
    due = step % 2 == 0
    expected = [a + 2 * r for a, r in zip(adv_grad, r1_grad, strict=True)] if due else adv_grad
    for got, want in zip((p.grad for p in D.parameters()), expected, strict=True):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-14)
    assert calls == ([True] if due else [])  # the double backward only on R1 steps
    assert (out["r1"].item() > 0) == due
    # The R1 terms differ from zero, so an unweighted or missing R1 would have failed above.
    assert max(r.abs().max().item() for r in r1_grad) > 1e-6


def test_interval_one_is_the_reference_step_at_every_iteration():
    # K = 1 computes R1 on every iteration, and its D update is bit for bit that of the reference
    # loss softplus(-D(x_r)) + softplus(D(x_f)) + gamma * R1 summed before one backward.
    G, D, reals, z, fakes = _setup(seed=9)
    D_ref = copy.deepcopy(D)
    x = reals.detach().requires_grad_(True)
    real_logits, fake_logits = D_ref(x), D_ref(fakes)
    (input_grad,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)
    r1 = GAMMA * input_grad.square().sum(dim=(1, 2, 3)).mean()
    (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean() + r1).backward()
    for step in (0, 1, 3):
        D_step = copy.deepcopy(D)
        d_step(_ctx(G, D_step, r1_interval=1, step=step), reals, z)
        for got, want in zip(D_step.parameters(), D_ref.parameters(), strict=True):
            assert torch.equal(got.grad, want.grad)


def test_train_step_counts_iterations_so_r1_follows_the_interval():
    G, D, reals, z, _ = _setup(seed=4)
    ctx = _ctx(G, D, r1_interval=3, step=0)
    r1_seen = [train_step(ctx, reals, z, z)["r1"].item() > 0 for _ in range(7)]
    assert r1_seen == [True, False, False, True, False, False, True] and ctx.step == 7


def test_profiled_training_flops_count_r1_at_one_kth_of_its_cost():
    from dataclasses import replace

    from bench.metrics.profile import training_flops_per_image
    from bench.registry import get_model

    spec = get_model("ladagan")
    preset = spec.presets["tiny32"]
    every = training_flops_per_image(spec, preset)
    without = training_flops_per_image(spec, replace(preset, training=replace(preset.training, r1_gamma=0.0)))
    lazy = training_flops_per_image(spec, preset, r1_interval=4)
    assert every > without  # R1's double backward is counted
    assert lazy == pytest.approx(without + (every - without) / 4, abs=1)  # integer division per image
