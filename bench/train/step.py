"""One training iteration of the reference (LadaGAN tensorflow/trainer.py): a D step, then a G step.

Loss: non-saturating logistic (softplus) over every logit D returns. R1: r1_gamma times the batch mean
of the squared gradient norm of sum(D(x)) with respect to D's real input x, every step, from the same
forward pass that gives the real logits. Lazy R1 (`r1_interval` K > 1, an option off by default):
StyleGAN2's lazy regularisation, the R1 term with weight K * r1_gamma on the D steps of iterations
0, K, 2K, ... and no R1 (no double backward) on the others. Two modes, as the reference's `bcr` switch:
- standard: DiffAugment on every D input, fakes in the G step included; R1 on the augmented reals.
- bCR (balanced consistency regularisation, Zhao et al. 2020): D sees the un-augmented reals and
  fakes (R1 on the un-augmented reals); their augmented copies, detached, go through D together in
  one call (one BatchNorm batch), and cr_weight * (MSE(D(x_r), D(aug x_r)) + MSE(D(x_f), D(aug x_f)))
  joins D's loss; the G step uses no augmentation.
Reals and fakes go through D in separate calls, so BatchNorm sees each batch on its own; all of a D
step's calls are one forward of `DiscriminatorPair`, so DistributedDataParallel sees one forward per backward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.train.augment import diff_augment
from bench.train.ema import make_ema

Augment = Callable[[Tensor], Tensor]
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # --amp -> autocast dtype
FUSED_ADAM_DEVICES = ("cpu", "cuda")  # device types with torch's fused Adam kernel


class DiscriminatorPair(nn.Module):
    """D on the reals, on the fakes and (bCR) on their augmented copies: separate calls inside one forward.

    DistributedDataParallel expects one forward per backward; D's D-step loss needs two or three D
    calls plus R1's double backward, so DDP wraps this pair rather than D itself.
    """

    def __init__(self, D: nn.Module):
        """Wrap D (its parameters stay D's own)."""
        super().__init__()
        self.D = D

    def forward(self, reals: Tensor, fakes: Tensor, augmented: Tensor | None = None) -> tuple[Tensor, ...]:
        """(D(reals), D(fakes)), plus D(augmented) as a third call when it is given."""
        if augmented is None:
            return self.D(reals), self.D(fakes)
        return self.D(reals), self.D(fakes), self.D(augmented)


@dataclass
class StepContext:
    """Everything one iteration needs besides the batch: models, optimizers, precision and the recipe."""

    G: nn.Module  # G as the step calls it: G_plain itself, or G_plain compiled and/or DistributedDataParallel-wrapped
    D: nn.Module  # the plain D (the G step's critic; D gets no update there, so no DDP)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: nn.Module  # AveragedModel of the plain (uncompiled) G
    G_plain: nn.Module  # G's own module: the weights the optimizer updates, G_ema averages and snapshots keep
    scaler: torch.amp.GradScaler
    augment: Augment
    r1_gamma: float
    amp_dtype: torch.dtype | None  # None: full precision
    device_type: str
    D_pair: nn.Module | None = None  # DiscriminatorPair(D), DDP-wrapped when distributed; None: built from D
    bcr: bool = False  # balanced consistency regularisation instead of augmenting D's inputs
    cr_weight: float = 0.1  # weight of the consistency loss (used only with bcr)
    r1_interval: int = 1  # lazy R1: R1 (weighted r1_interval x r1_gamma) only on iterations step % r1_interval == 0
    step: int = (
        0  # the run's iteration count (index of the next iteration): `train_step` advances it, snapshots keep it
    )

    def __post_init__(self) -> None:
        """Default the D-step pair to the plain D."""
        if self.D_pair is None:
            self.D_pair = DiscriminatorPair(self.D)

    def r1_due(self) -> bool:
        """Whether this iteration's D step computes R1 (every step at interval 1, the reference; never at gamma 0)."""
        return self.r1_gamma > 0 and self.step % self.r1_interval == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision region for forward passes (a no-op when AMP is off)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.amp_dtype)


def make_step_context(
    G: nn.Module,
    D: nn.Module,
    recipe: Any,
    device_type: str,
    amp_dtype: torch.dtype | None,
    augment_generator: torch.Generator,
    r1_interval: int = 1,
) -> StepContext:
    """The reference recipe around G and D: G_ema, one Adam each, the AMP scaler and DiffAugment.

    Training and profiling both build their step with it. `recipe` has lr_g, lr_d, betas, adam_eps,
    ema_decay, r1_gamma, augment, bcr and cr_weight (a preset's training config, or TrainOptions); `r1_interval`
    is the run's lazy-R1 option (1: the reference). Wrapping G or the D pair (torch.compile, DDP) is the
    caller's: assign `ctx.G` / `ctx.D_pair` afterwards.
    """
    policy = recipe.augment
    return StepContext(
        G=G,
        D=D,
        ema=make_ema(G, recipe.ema_decay),
        G_plain=G,
        opt_g=make_adam(G.parameters(), recipe.lr_g, recipe, device_type),
        opt_d=make_adam(D.parameters(), recipe.lr_d, recipe, device_type),
        scaler=torch.amp.GradScaler(device_type, enabled=amp_dtype == torch.float16),
        augment=lambda x: diff_augment(x, policy, augment_generator),
        r1_gamma=recipe.r1_gamma,
        amp_dtype=amp_dtype,
        device_type=device_type,
        bcr=bool(recipe.bcr),
        cr_weight=float(recipe.cr_weight),
        r1_interval=int(r1_interval),
    )


def make_adam(params: Any, lr: float, recipe: Any, device_type: str) -> torch.optim.Adam:
    """The recipe's Adam (betas, eps); torch's fused kernel on CPU and CUDA.

    The fused kernel does the same update in one pass over all tensors instead of about ten ops per
    tensor; it differs from the per-tensor loop only in floating-point order (a few ulps per update).
    """
    fused = True if device_type in FUSED_ADAM_DEVICES else None  # None: torch's default elsewhere
    return torch.optim.Adam(params, lr=lr, betas=tuple(recipe.betas), eps=recipe.adam_eps, fused=fused)


def _at_least_fp32(t: Tensor) -> Tensor:
    """Upcast half-precision values (AMP) for reductions; leave float32/float64 as they are."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def r1_penalty(real_logits: Tensor, reals_aug: Tensor, r1_gamma: float, scaler=None) -> Tensor:
    """r1_gamma * mean over the batch of ||d sum(logits) / d reals_aug||^2, differentiable for D's update."""
    total = _at_least_fp32(real_logits).sum()
    scaled = scaler is not None and scaler.is_enabled()
    if scaled:  # fp16: differentiate the scaled output, then unscale, as torch's AMP recipe does
        total = scaler.scale(total)
    (grad,) = torch.autograd.grad(total, reals_aug, create_graph=True)
    if scaled:
        grad = grad / scaler.get_scale()
    return r1_gamma * _at_least_fp32(grad).square().sum(dim=tuple(range(1, grad.dim()))).mean()


def grad_norm(module: nn.Module) -> Tensor:
    """L2 norm over all gradients of a module (0 when none), as a tensor to avoid a device sync."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.nn.utils.get_total_norm(grads)


def update(
    ctx: StepContext, optimizer: torch.optim.Optimizer, loss: Tensor, module: nn.Module
) -> tuple[Tensor, Tensor]:
    """Backpropagate `loss` through the AMP scaler and step `optimizer`: (module's grad norm, 1.0 if skipped else 0.0).

    The grad norm is taken after unscaling. Under fp16 the first steps often overflow while the scaler
    finds its scale; such a step changes no weight, so the loop does not treat its non-finite loss as divergence.
    """
    optimizer.zero_grad(set_to_none=True)
    ctx.scaler.scale(loss).backward()
    ctx.scaler.unscale_(optimizer)
    norm = grad_norm(module)
    scale_before = ctx.scaler.get_scale() if ctx.scaler.is_enabled() else None
    ctx.scaler.step(optimizer)
    ctx.scaler.update()
    skipped = scale_before is not None and ctx.scaler.get_scale() < scale_before
    return norm, torch.tensor(float(skipped))


def _r1_or_zero(ctx: StepContext, real_logits: Tensor, reals_in: Tensor) -> Tensor:
    """R1 on D's real input (weighted r1_interval x r1_gamma), or 0 when not due (no double backward paid)."""
    if ctx.r1_due():
        return r1_penalty(real_logits, reals_in, ctx.r1_gamma * ctx.r1_interval, ctx.scaler)
    return torch.zeros((), device=real_logits.device)


def _standard_d_terms(ctx: StepContext, reals: Tensor, fakes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(real logits, fake logits, R1, 0): DiffAugment on both D inputs, R1 w.r.t. the augmented reals."""
    reals_aug = ctx.augment(reals).detach().requires_grad_(ctx.r1_due())
    fakes_aug = ctx.augment(fakes)
    with ctx.autocast():
        real_logits, fake_logits = ctx.D_pair(reals_aug, fakes_aug)
    zero = torch.zeros((), device=real_logits.device)
    return real_logits, fake_logits, _r1_or_zero(ctx, real_logits, reals_aug), zero


def consistency_loss(logits: Tensor, augmented_logits: Tensor) -> Tensor:
    """Mean squared difference between D's logits on images and on their augmented copies (TF l2_loss)."""
    return F.mse_loss(_at_least_fp32(logits), _at_least_fp32(augmented_logits))


def _bcr_d_terms(ctx: StepContext, reals: Tensor, fakes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(real logits, fake logits, R1, consistency) of bCR: D on un-augmented images, copies in one call."""
    reals_in = reals.detach().requires_grad_(ctx.r1_due())
    # Augmented copies (reals drawn first, as the reference) carry no gradient to the images (TF stop_gradient).
    augmented = torch.cat([ctx.augment(reals), ctx.augment(fakes)]).detach()
    with ctx.autocast():
        real_logits, fake_logits, augmented_logits = ctx.D_pair(reals_in, fakes, augmented)
    real_aug_logits, fake_aug_logits = augmented_logits.split([len(reals), len(fakes)])
    cr = ctx.cr_weight * (
        consistency_loss(real_logits, real_aug_logits) + consistency_loss(fake_logits, fake_aug_logits)
    )
    return real_logits, fake_logits, _r1_or_zero(ctx, real_logits, reals_in), cr


def d_step(ctx: StepContext, reals: Tensor, z: Tensor) -> dict[str, Tensor]:
    """Update D once on a real batch and fakes G(z); return its detached loss terms and grad norm."""
    ctx.D.requires_grad_(True)
    with torch.no_grad(), ctx.autocast():
        fakes = ctx.G(z)
    terms = _bcr_d_terms if ctx.bcr else _standard_d_terms
    real_logits, fake_logits, r1, cr = terms(ctx, reals, _at_least_fp32(fakes))
    loss_adv = F.softplus(-_at_least_fp32(real_logits)).mean() + F.softplus(_at_least_fp32(fake_logits)).mean()
    loss_d = loss_adv + r1 + cr
    norm_d, skipped = update(ctx, ctx.opt_d, loss_d, ctx.D)
    return {
        "loss_d": loss_d.detach(),
        "r1": r1.detach(),
        "cr": cr.detach(),
        "grad_norm_d": norm_d.detach(),
        "amp_skipped_d": skipped,
    }


def g_step(ctx: StepContext, z: Tensor) -> dict[str, Tensor]:
    """Update G once through D(aug(G(z))) (bCR: D(G(z))), then move G_ema towards G; return the loss and norm."""
    ctx.D.requires_grad_(False)  # D gets no gradient in the G step; saves its weight-grad work
    with ctx.autocast():
        fakes = ctx.G(z)
    fakes_in = _at_least_fp32(fakes) if ctx.bcr else ctx.augment(_at_least_fp32(fakes))
    with ctx.autocast():
        fake_logits = ctx.D(fakes_in)
    loss_g = F.softplus(-_at_least_fp32(fake_logits)).mean()
    norm_g, skipped = update(ctx, ctx.opt_g, loss_g, ctx.G_plain)
    ctx.D.requires_grad_(True)
    ctx.ema.update_parameters(ctx.G_plain)
    return {"loss_g": loss_g.detach(), "grad_norm_g": norm_g.detach(), "amp_skipped_g": skipped}


def train_step(ctx: StepContext, reals: Tensor, z_d: Tensor, z_g: Tensor) -> dict[str, Tensor]:
    """One iteration: a D step on (reals, G(z_d)), then a G step on G(z_g) (fresh z for each); advances `ctx.step`."""
    stats = d_step(ctx, reals, z_d)
    stats.update(g_step(ctx, z_g))
    ctx.step += 1
    return stats
