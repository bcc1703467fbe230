"""The two EMA starts: 'copy' (G's own weights) and 'fresh' (a new draw of G, as the authors' TF clone_model)."""

from __future__ import annotations

import pytest
import torch
from emacheck import SmallG, follow_ema

from bench.train.ema_start import initial_ema_state

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


def test_copy_starts_at_g_and_follows_the_formula():
    torch.manual_seed(0)
    G = SmallG()
    start = initial_ema_state(G, "copy", SmallG, seed=123)
    assert all(torch.equal(start[k], v) for k, v in G.state_dict().items())
    with torch.no_grad():
        G.lin.weight.add_(1.0)
    assert not torch.equal(start["lin.weight"], G.lin.weight)  # a copy, not G's own tensors
    follow_ema(start, G, decay=0.8, steps=3)


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
    follow_ema(start, G, decay=0.8, steps=3)


def test_unknown_start_is_refused():
    with pytest.raises(ValueError, match="'clone'"):
        initial_ema_state(SmallG(), "clone", SmallG, seed=0)
