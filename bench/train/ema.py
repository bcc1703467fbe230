"""The EMA generator (G_ema), kept with torch's `AveragedModel` as the reference's 0.999-per-step average."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_ema(generator: nn.Module, decay: float) -> AveragedModel:
    """An exact copy of G whose every weight and buffer then follows w_ema <- decay*w_ema + (1-decay)*w."""
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    # AveragedModel copies the model again on its first update (n_averaged == 0). The reference
    # averages from the very first G step with the initial copy as w_ema, so count the copy as one.
    ema.n_averaged.fill_(1)
    ema.requires_grad_(False)
    return ema


def ema_state_dict(ema: AveragedModel) -> dict[str, torch.Tensor]:
    """G_ema as a plain generator state dict (no `module.` prefix, no `n_averaged`)."""
    return ema.module.state_dict()


def load_ema_state_dict(ema: AveragedModel, state: dict[str, torch.Tensor]) -> None:
    """Restore G_ema from a plain generator state dict (the inverse of `ema_state_dict`)."""
    ema.module.load_state_dict(state)
    ema.n_averaged.fill_(1)
