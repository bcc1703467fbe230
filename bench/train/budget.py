"""A run's budget in real images shown to D: from --kimg, or from --budget-tflops and the counted FLOPs per image.

A training-compute budget B (TFLOPs) with F training FLOPs per real image (counted by `ladabench profile`'s
counter for the run's model, preset and recipe, in the commands layer) ends the run at the first image count
N with N x F >= B, i.e. N = ceil(B / F); as with --kimg, the last batch is trimmed to land exactly on N.
Training itself never counts FLOPs: it reads F from the options (`train_flops_per_image`).
"""

from __future__ import annotations

import math
from typing import Any

from bench.core.errors import UserError

FLOPS_PER_TFLOP = 10**12


def budget_flops(budget_tflops: float) -> int:
    """A TFLOPs budget as a whole number of FLOPs (integers keep N x F >= B exact)."""
    return round(budget_tflops * FLOPS_PER_TFLOP)


def flops_budget_images(budget_tflops: float, train_flops_per_image: int) -> int:
    """The images at which a run of F FLOPs per image first reaches B TFLOPs: ceil(B / F)."""
    return -(-budget_flops(budget_tflops) // int(train_flops_per_image))


def budget_images(options: Any) -> int | None:
    """The run's budget in images (kimg x 1000, or the FLOPs budget's count); None for a wall-clock-only run."""
    if getattr(options, "budget_tflops", None) is not None:
        if options.train_flops_per_image is None:
            raise UserError(
                "options.json has budget_tflops but no train_flops_per_image; start the run with `ladabench train`"
            )
        return flops_budget_images(options.budget_tflops, options.train_flops_per_image)
    return None if options.total_kimg is None else int(round(options.total_kimg * 1000))


def check_budget_tflops(budget_tflops: float | None, train_flops_per_image: int | None, batch_size: int) -> None:
    """Refuse a non-positive or non-finite budget, and one that buys less than one batch, naming --budget-tflops."""
    if budget_tflops is None:
        return
    if not math.isfinite(budget_tflops) or budget_tflops <= 0:
        raise UserError(f"--budget-tflops must be a positive number of training TFLOPs (got {budget_tflops})")
    if train_flops_per_image is None:  # a dry run before the count: the batch check follows with the count
        return
    batch_tflops = batch_size * train_flops_per_image / FLOPS_PER_TFLOP
    if flops_budget_images(budget_tflops, train_flops_per_image) < batch_size:
        raise UserError(
            f"--budget-tflops {budget_tflops:g} is less than one batch ({batch_size} images x "
            f"{train_flops_per_image / 1e9:.3f} GFLOPs = {batch_tflops:.4g} TFLOPs); pass at least {batch_tflops:.4g}"
        )


def budget_text(options: Any) -> str:
    """The budget in words for logs: '16 kimg', '5 TFLOPs (4,735 images at 1.056 GFLOPs each)', or 'none'."""
    if getattr(options, "budget_tflops", None) is not None and options.train_flops_per_image:
        images = flops_budget_images(options.budget_tflops, options.train_flops_per_image)
        return (
            f"{options.budget_tflops:g} training TFLOPs ({images:,} images at "
            f"{options.train_flops_per_image / 1e9:.3f} GFLOPs each)"
        )
    return "none" if options.total_kimg is None else f"{options.total_kimg:g} kimg"
