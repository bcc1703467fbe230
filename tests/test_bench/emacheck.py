"""Shared for the EMA tests: a tiny G with a float buffer, and a check of G_ema's per-step formula."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from bench.train.ema import ema_state_dict, load_ema_state_dict, make_ema


class SmallG(nn.Module):
    """A linear layer and a float buffer (G_ema averages buffers too, as the reference's weights list)."""

    def __init__(self):
        """Default torch init of a Linear(4, 3) and a zero buffer."""
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.register_buffer("stat", torch.zeros(3))


def follow_ema(start: dict[str, torch.Tensor], G: SmallG, decay: float, steps: int) -> AveragedModel:
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
    return ema
