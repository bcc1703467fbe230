"""bCR training mode (balanced consistency regularisation) against independent computations.

The D step's loss and its gradient are recomputed by hand on a small D whose BatchNorm is written
out, so the test also pins which images share one BatchNorm batch: reals alone, fakes alone, and
the augmented reals and fakes together in one call.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.train.augment import diff_augment
from bench.train.ema import make_ema
from bench.train.step import StepContext, d_step, g_step

POLICY = "color,translation,cutout"
SIZE, BATCH = 8, 3


pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


class SmallD(nn.Module):
    """conv 3x3 -> BatchNorm (batch statistics) -> LeakyReLU -> 2x2 average pool -> linear to 5 logits."""

    def __init__(self):
        """float64 layers, so the hand computation can be compared tightly."""
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, dtype=torch.float64)
        self.bn = nn.BatchNorm2d(4, eps=1e-3, dtype=torch.float64)
        self.head = nn.Linear(4 * (SIZE // 2) ** 2, 5, dtype=torch.float64)

    def forward(self, x):
        """(B, 3, SIZE, SIZE) -> (B, 5)."""
        return self.head(F.avg_pool2d(F.leaky_relu(self.bn(self.conv(x)), 0.2), 2).flatten(1))


def small_d_by_hand(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """SmallD's forward with BatchNorm written out: mean and biased variance over this call's batch."""
    h = F.conv2d(x, params["conv.weight"], params["conv.bias"], padding=1)
    mean = h.mean(dim=(0, 2, 3), keepdim=True)
    var = (h - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True)
    h = (h - mean) / torch.sqrt(var + 1e-3) * params["bn.weight"][:, None, None] + params["bn.bias"][:, None, None]
    h = F.avg_pool2d(torch.where(h > 0, h, 0.2 * h), 2).flatten(1)
    return h @ params["head.weight"].T + params["head.bias"]


class SmallG(nn.Module):
    """z (B, 6) -> images (B, 3, SIZE, SIZE) through one linear layer."""

    z_dim = 6

    def __init__(self):
        """float64 weights."""
        super().__init__()
        self.lin = nn.Linear(6, 3 * SIZE * SIZE, dtype=torch.float64)

    def forward(self, z):
        """Linear map reshaped to images."""
        return self.lin(z).view(-1, 3, SIZE, SIZE)


def _ctx(G, D, seed: int, r1_gamma: float, cr_weight: float, lr: float = 0.1) -> StepContext:
    """A bCR step context with plain SGD (so a parameter update is exactly -lr x its gradient)."""
    gen = torch.Generator().manual_seed(seed)
    return StepContext(
        G=G,
        D=D,
        opt_g=torch.optim.SGD(G.parameters(), lr=lr),
        opt_d=torch.optim.SGD(D.parameters(), lr=lr),
        ema=make_ema(G, 0.9),
        G_plain=G,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        augment=lambda x: diff_augment(x, POLICY, gen),
        r1_gamma=r1_gamma,
        amp_dtype=None,
        device_type="cpu",
        bcr=True,
        cr_weight=cr_weight,
    )


def _expected_bcr_loss(params, reals, fakes, seed: int, r1_gamma: float, cr_weight: float):
    """The reference's bCR D loss, by hand: (total, R1, consistency)."""
    gen = torch.Generator().manual_seed(seed)
    reals_aug = diff_augment(reals, POLICY, gen)  # reals drawn first, then fakes
    fakes_aug = diff_augment(fakes, POLICY, gen)
    x = reals.clone().requires_grad_(True)
    real_logits = small_d_by_hand(params, x)
    (grad,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)
    r1 = r1_gamma * grad.pow(2).sum(dim=(1, 2, 3)).mean()
    fake_logits = small_d_by_hand(params, fakes)
    together = small_d_by_hand(params, torch.cat([reals_aug, fakes_aug]))  # one BatchNorm batch of 2B
    real_aug_logits, fake_aug_logits = together[:BATCH], together[BATCH:]
    cr = cr_weight * ((real_logits - real_aug_logits).pow(2).mean() + (fake_logits - fake_aug_logits).pow(2).mean())
    adversarial = torch.log1p(torch.exp(-real_logits)).mean() + torch.log1p(torch.exp(fake_logits)).mean()
    return adversarial + r1 + cr, r1, cr


def test_bcr_d_loss_and_update_equal_the_hand_computation():
    torch.manual_seed(0)
    G, D = SmallG(), SmallD()
    D_before, G_before = copy.deepcopy(D), copy.deepcopy(G)
    reals = torch.rand(BATCH, 3, SIZE, SIZE, dtype=torch.float64) * 2 - 1
    z = torch.randn(BATCH, G.z_dim, dtype=torch.float64)
    out = d_step(_ctx(G, D, seed=5, r1_gamma=0.3, cr_weight=0.7), reals, z)

    params = {k: v.detach().clone().requires_grad_(True) for k, v in D_before.named_parameters()}
    with torch.no_grad():
        fakes = G_before(z)
    total, r1, cr = _expected_bcr_loss(params, reals, fakes, seed=5, r1_gamma=0.3, cr_weight=0.7)
    assert torch.allclose(out["loss_d"], total, rtol=1e-10)
    assert torch.allclose(out["r1"], r1, rtol=1e-10)
    assert torch.allclose(out["cr"], cr, rtol=1e-10) and cr > 0
    # SGD: every D weight moved by exactly -lr x d(total)/d(weight); G untouched.
    grads = dict(zip(params, torch.autograd.grad(total, list(params.values())), strict=True))
    for name, p in D.named_parameters():
        assert torch.allclose(p, params[name] - 0.1 * grads[name], rtol=1e-9, atol=1e-12), name
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G_before.parameters(), strict=True))


def test_augmented_copies_share_one_batchnorm_batch():
    # Were the augmented reals and fakes sent through D in two calls, BatchNorm would normalise each
    # on its own statistics and the consistency term would differ.
    torch.manual_seed(1)
    G, D = SmallG(), SmallD()
    D_before, G_before = copy.deepcopy(D), copy.deepcopy(G)
    reals = torch.rand(BATCH, 3, SIZE, SIZE, dtype=torch.float64) * 2 - 1
    z = torch.randn(BATCH, G.z_dim, dtype=torch.float64)
    out = d_step(_ctx(G, D, seed=9, r1_gamma=0.0, cr_weight=1.0), reals, z)
    params = {k: v.detach() for k, v in D_before.named_parameters()}
    gen = torch.Generator().manual_seed(9)
    with torch.no_grad():
        fakes = G_before(z)
        reals_aug, fakes_aug = diff_augment(reals, POLICY, gen), diff_augment(fakes, POLICY, gen)
        real_logits, fake_logits = small_d_by_hand(params, reals), small_d_by_hand(params, fakes)
        split = torch.cat([small_d_by_hand(params, reals_aug), small_d_by_hand(params, fakes_aug)])
        cr_two_calls = (real_logits - split[:BATCH]).pow(2).mean() + (fake_logits - split[BATCH:]).pow(2).mean()
    assert not torch.allclose(out["cr"], cr_two_calls, rtol=1e-6)
    assert out["r1"].item() == 0.0


class RecordingD(nn.Module):
    """Wraps a D and keeps every input it is called with."""

    def __init__(self, inner: nn.Module):
        """Wrap `inner`."""
        super().__init__()
        self.inner, self.inputs = inner, []

    def forward(self, x):
        """Record x, then D(x)."""
        self.inputs.append(x.detach().clone())
        return self.inner(x)


def test_g_step_under_bcr_sees_unaugmented_fakes_and_draws_no_augmentation():
    torch.manual_seed(2)
    G, D = SmallG(), RecordingD(SmallD())
    G_before = copy.deepcopy(G)
    z = torch.randn(BATCH, G.z_dim, dtype=torch.float64)
    ctx = _ctx(G, D, seed=4, r1_gamma=0.0, cr_weight=0.1)
    augment_calls = []
    inner_augment = ctx.augment
    ctx.augment = lambda x: (augment_calls.append(1), inner_augment(x))[1]
    out = g_step(ctx, z)
    with torch.no_grad():
        expected_fakes = G_before(z)
    assert len(D.inputs) == 1 and torch.equal(D.inputs[0], expected_fakes)
    assert augment_calls == [] and torch.isfinite(out["loss_g"])
    # Without bCR the same step augments the fakes.
    ctx.bcr, D.inputs = False, []
    g_step(ctx, z)
    assert augment_calls == [1] and not torch.allclose(D.inputs[0], G(z).detach())


def test_d_step_under_bcr_is_one_forward_of_the_pair_with_three_d_calls():
    # DistributedDataParallel wraps the pair: one forward per backward, whatever D is called on inside.
    torch.manual_seed(3)
    G, D = SmallG(), RecordingD(SmallD())
    ctx = _ctx(G, D, seed=1, r1_gamma=0.2, cr_weight=0.1)
    pair_calls = []
    ctx.D_pair.register_forward_hook(lambda *args: pair_calls.append(1))
    reals = torch.rand(BATCH, 3, SIZE, SIZE, dtype=torch.float64) * 2 - 1
    d_step(ctx, reals, torch.randn(BATCH, G.z_dim, dtype=torch.float64))
    assert pair_calls == [1]
    assert [len(x) for x in D.inputs] == [BATCH, BATCH, 2 * BATCH]
    assert torch.equal(D.inputs[0], reals)  # un-augmented reals


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
def test_bcr_d_step_under_autocast_is_close_to_full_precision(amp_dtype):
    import ladagan

    torch.manual_seed(4)
    G, D = ladagan.build(ladagan.PRESETS["tiny32"])
    reals = torch.rand(4, 3, 32, 32) * 2 - 1
    z = torch.randn(4, G.z_dim)
    results = {}
    for dtype in (None, amp_dtype):
        G_run, D_run = copy.deepcopy(G), copy.deepcopy(D)
        gen = torch.Generator().manual_seed(6)
        ctx = StepContext(
            G=G_run,
            D=D_run,
            opt_g=torch.optim.Adam(G_run.parameters()),
            opt_d=torch.optim.Adam(D_run.parameters()),
            ema=make_ema(G_run, 0.9),
            G_plain=G_run,
            scaler=torch.amp.GradScaler("cpu", enabled=dtype == torch.float16, init_scale=2.0**8),
            augment=lambda x, gen=gen: diff_augment(x, POLICY, gen),
            r1_gamma=0.01,
            amp_dtype=dtype,
            device_type="cpu",
            bcr=True,
            cr_weight=0.1,
        )
        results[dtype] = d_step(ctx, reals, z)
    full, mixed = results[None], results[amp_dtype]
    assert mixed["amp_skipped_d"].item() == 0.0
    for key in ("loss_d", "r1", "cr"):
        assert torch.isfinite(mixed[key]) and mixed[key] > 0, key
        assert torch.allclose(mixed[key].float(), full[key], rtol=0.1), (key, mixed[key], full[key])
