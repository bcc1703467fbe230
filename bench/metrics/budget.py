"""The count behind a --budget-tflops run: training FLOPs per real image for its model, preset and recipe.

Counted with `ladabench profile`'s counter (`training_flops_per_image`: one D step with R1, plus the bCR
pass where the recipe has it, and one G step, per real image; lazy R1 as the mean over its cycle). The
count is per image, so the batch does not change it; the run's own recipe (not the preset's) is counted.
"""

from __future__ import annotations

import functools
from typing import Any

from bench.metrics.profile import training_flops_per_image
from bench.registry import get_model
from bench.train.options import TrainOptions, option_fields
from bench.train.resolve import effective_preset, resolve_options


@functools.cache
def _counted(model: str, preset_name: str, recipe: tuple[tuple[str, Any], ...], r1_interval: int) -> int:
    """The count of one (model, preset, recipe, R1 interval), once per process."""
    spec = get_model(model)
    preset = effective_preset(spec.presets[preset_name], dict(recipe))
    return training_flops_per_image(spec, preset, r1_interval=r1_interval)


def run_training_flops(options: TrainOptions) -> int:
    """Training FLOPs per real image of a run with these options (its recipe, its R1 interval)."""
    recipe = tuple((f.name, getattr(options, f.name)) for f in option_fields(recipe=True))
    return _counted(options.model, options.preset, recipe, int(options.r1_interval))


def resolve_budgeted(request: dict[str, Any], resolution: int) -> TrainOptions:
    """`resolve_options`, with the FLOPs count a --budget-tflops run needs (a count already in the request is kept)."""
    options = resolve_options(request, resolution)
    if options.budget_tflops is None or options.train_flops_per_image is not None:
        return options
    return resolve_options({**request, "train_flops_per_image": run_training_flops(options)}, resolution)
