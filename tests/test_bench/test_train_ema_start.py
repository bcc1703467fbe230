"""The two EMA starts: 'copy' (G's own weights) and 'fresh' (a new draw of G, as the authors' TF clone_model)."""

from __future__ import annotations

import pytest
import torch
from threads import one_torch_thread
from torch import nn

from bench.train.ema import ema_state_dict, load_ema_state_dict, make_ema
from bench.train.ema_start import initial_ema_state


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test here on one torch thread (see threads.py)."""
    with one_torch_thread():
        yield


class SmallG(nn.Module):
    """A linear layer and a float buffer (G_ema averages buffers too, as the reference's weights list)."""

    def __init__(self):
        """Default torch init of a Linear(4, 3) and a zero buffer."""
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.register_buffer("stat", torch.zeros(3))


def _follow(start: dict[str, torch.Tensor], G: nn.Module, decay: float, steps: int) -> None:
    """Run `steps` EMA updates from `start` while G changes, checking w_ema = decay w_ema + (1 - decay) w each time."""
    ema = make_ema(G, decay)
    load_ema_state_dict(ema, start)
    expected = {k: v.clone() for k, v in start.items()}
    for _ in range(steps):
        with torch.no_grad():
            for p in G.parameters():
                p.add_(torch.randn_like(p))
            G.stat.add_(1.0)
        ema.update_parameters(G)
        for k, w in G.state_dict().items():
            expected[k] = decay * expected[k] + (1 - decay) * w
        for k, v in ema_state_dict(ema).items():
            assert torch.allclose(v, expected[k], rtol=1e-6, atol=1e-7), k


def test_copy_starts_at_g_and_follows_the_formula():
    torch.manual_seed(0)
    G = SmallG()
    start = initial_ema_state(G, "copy", SmallG, seed=123)
    assert all(torch.equal(start[k], v) for k, v in G.state_dict().items())
    with torch.no_grad():
        G.lin.weight.add_(1.0)
    assert not torch.equal(start["lin.weight"], G.lin.weight)  # a copy, not G's own tensors
    _follow(start, G, decay=0.8, steps=3)


def test_fresh_starts_at_a_new_draw_under_its_seed_and_follows_the_formula():
    torch.manual_seed(0)
    G = SmallG()
    rng_before = torch.get_rng_state()
    start = initial_ema_state(G, "fresh", SmallG, seed=123)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG stream is untouched
    torch.manual_seed(123)
    expected = SmallG().state_dict()  # the same initialisers, drawn under the seed
    assert all(torch.equal(start[k], v) for k, v in expected.items())
    assert not torch.equal(start["lin.weight"], G.lin.weight)  # a different draw from G's
    assert torch.equal(start["stat"], G.stat)  # buffers start at their initial value either way
    _follow(start, G, decay=0.8, steps=3)


def test_unknown_start_is_refused():
    with pytest.raises(ValueError, match="'clone'"):
        initial_ema_state(SmallG(), "clone", SmallG, seed=0)
