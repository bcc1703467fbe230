"""The EMA generator (G_ema): torch's `AveragedModel` with a decay that may follow a schedule.

The reference averages with a fixed 0.999 per step. For small budgets the suite also offers the
StyleGAN2-ADA schedule: a half-life given in kimg of real images, optionally ramped up as a fraction
of the images seen so far, so that G_ema follows G early on instead of holding its initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


@dataclass(frozen=True)
class EmaSchedule:
    """How much G_ema keeps of itself at each step: a fixed decay, or a half-life in kimg with a ramp-up."""

    decay_per_step: float  # used when halflife_kimg is None (the reference: 0.999)
    halflife_kimg: float | None = None  # kimg of real images after which an old weight counts half
    rampup_ratio: float | None = None  # half-life at most this fraction of the images seen so far
    batch_size: int = 1  # real images per step (the half-life is in images, the update per step)

    def decay(self, images_before_step: int) -> float:
        """The decay of the update that follows a step which starts with `images_before_step` images seen."""
        if self.halflife_kimg is None:
            return self.decay_per_step
        halflife_images = self.halflife_kimg * 1000.0
        if self.rampup_ratio is not None:
            halflife_images = min(halflife_images, images_before_step * self.rampup_ratio)
        # beta ** (steps per half-life) = 1/2; a zero half-life (ramp at image 0) copies G.
        return 0.5 ** (self.batch_size / max(halflife_images, 1e-8))

    def describe(self) -> str:
        """One line for logs and report protocols."""
        if self.halflife_kimg is None:
            return f"{self.decay_per_step:g} per step"
        ramp = "" if self.rampup_ratio is None else f", ramp-up {self.rampup_ratio:g} x images seen"
        return f"half-life {self.halflife_kimg:g} kimg{ramp}"


class _LerpUpdate:
    """AveragedModel's update rule w_ema <- d*w_ema + (1-d)*w, with d set before each update."""

    def __init__(self, decay: float):
        """Start at `decay`; `EmaGenerator.set_decay` changes it."""
        self.decay = decay

    @torch.no_grad()
    def __call__(self, ema_tensors: list[torch.Tensor], tensors: list[torch.Tensor], _count) -> None:
        """One fused lerp over all floating tensors (the same kernel as torch's get_ema_multi_avg_fn)."""
        if torch.is_floating_point(ema_tensors[0]) or torch.is_complex(ema_tensors[0]):
            torch._foreach_lerp_(ema_tensors, tensors, 1.0 - self.decay)
        else:
            for ema_t, t in zip(ema_tensors, tensors, strict=True):
                ema_t.copy_(ema_t * self.decay + t * (1.0 - self.decay))


def make_ema(generator: nn.Module, decay: float) -> AveragedModel:
    """An exact copy of G whose every weight and buffer then follows w_ema <- decay*w_ema + (1-decay)*w."""
    ema = AveragedModel(generator, multi_avg_fn=_LerpUpdate(decay), use_buffers=True)
    # AveragedModel copies the model again on its first update (n_averaged == 0). The reference
    # averages from the very first G step with the initial copy as w_ema, so count the copy as one.
    ema.n_averaged.fill_(1)
    ema.requires_grad_(False)
    return ema


def set_ema_decay(ema: AveragedModel, decay: float) -> None:
    """The decay the next `update_parameters` uses (the schedule's value for this step)."""
    ema.multi_avg_fn.decay = float(decay)


def ema_state_dict(ema: AveragedModel) -> dict[str, torch.Tensor]:
    """G_ema as a plain generator state dict (no `module.` prefix, no `n_averaged`)."""
    return ema.module.state_dict()


def load_ema_state_dict(ema: AveragedModel, state: dict[str, torch.Tensor]) -> None:
    """Restore G_ema from a plain generator state dict (the inverse of `ema_state_dict`)."""
    ema.module.load_state_dict(state)
    ema.n_averaged.fill_(1)
