"""Speed levers of the training step keep the authors' step: fused Adam equals the per-tensor update."""

from __future__ import annotations

import io
from types import SimpleNamespace

import torch

from bench.train.step import make_adam

RECIPE = SimpleNamespace(betas=(0.5, 0.99), adam_eps=1e-7)


def _adam_by_hand(param: torch.Tensor, grads: list[torch.Tensor], lr: float) -> torch.Tensor:
    """Kingma & Ba's Adam with bias correction, written out in float64 (the reference the kernels approximate)."""
    b1, b2 = RECIPE.betas
    p, m, v = (
        param.double().clone(),
        torch.zeros_like(param, dtype=torch.float64),
        torch.zeros_like(param, dtype=torch.float64),
    )
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g.double()
        v = b2 * v + (1 - b2) * g.double() ** 2
        p -= lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + RECIPE.adam_eps)
    return p


def test_cpu_adam_is_fused_and_matches_the_textbook_update() -> None:
    gen = torch.Generator().manual_seed(0)
    # Gradients over eight orders of magnitude, so eps (1e-7) matters for the small ones.
    shapes = [(64, 32), (32,), (3, 3, 8, 8)]
    params = [torch.randn(s, generator=gen).requires_grad_(True) for s in shapes]
    grads = [[torch.randn(s, generator=gen) * 10.0 ** (-1 - 8 * i / len(shapes)) for s in shapes] for i in range(5)]
    start = [p.detach().clone() for p in params]
    opt = make_adam(params, 2e-4, RECIPE, "cpu")
    assert opt.param_groups[0]["fused"] is True
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = g
        opt.step()
    for k, p in enumerate(params):
        expected = _adam_by_hand(start[k], [step_grads[k] for step_grads in grads], 2e-4)
        # float32 rounding only: observed max |diff| 1.5e-8 against torch's per-tensor loop after 10 updates.
        torch.testing.assert_close(p.detach().double(), expected, rtol=1e-6, atol=5e-8)
        assert not torch.equal(p.detach(), start[k])


def test_fused_adam_state_round_trips_and_continues_identically() -> None:
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(16, generator=gen).requires_grad_(True)
    b = a.detach().clone().requires_grad_(True)
    opt_a, opt_b = make_adam([a], 1e-3, RECIPE, "cpu"), make_adam([b], 1e-3, RECIPE, "cpu")
    grads = [torch.randn(16, generator=gen) for _ in range(4)]
    for g in grads[:2]:
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    saved = io.BytesIO()
    torch.save(opt_a.state_dict(), saved)  # what a snapshot and its resume do
    saved.seek(0)
    opt_b.load_state_dict(torch.load(saved))
    for g in grads[2:]:
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    assert torch.equal(a, b)
