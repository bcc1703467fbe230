"""Resolve a training request (the values a user gave; None = not given) into checked `TrainOptions`.

Derived defaults: the preset comes from the data's resolution, the recipe fields (batch, learning
rates, betas, R1, EMA, augmentation) from the preset, the budget from the model's registry entry
when neither --kimg nor --minutes is given, the tick length from the budget, the evaluation interval from the
snapshot interval, the device from this machine. Everything else has its default in `TrainOptions`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import fields
from typing import Any

import torch

from bench.core.errors import UserError
from bench.registry import get_model
from bench.train.augment import parse_policy
from bench.train.budget import check_budget_tflops, flops_budget_images
from bench.train.options import (
    FROM_PRESET,
    TrainOptions,
    option_fields,
)
from bench.train.trackers import parse_trackers
from bench.zoo.spec import Preset

MAX_TICK_KIMG = 4.0  # StyleGAN's tick length; shorter runs get ~10 ticks


def default_device() -> str:
    """CUDA when available, else CPU (the same code path runs on both)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_tick_kimg(total_kimg: float | None, batch_size: int) -> float:
    """Progress/stats interval: ~1/10 of the budget, at least one batch, at most 4 kimg."""
    if total_kimg is None:
        return MAX_TICK_KIMG
    return min(MAX_TICK_KIMG, max(batch_size / 1000, total_kimg / 10))


def effective_preset(preset: Preset, training_overrides: dict[str, Any]) -> Preset:
    """The preset with its training recipe replaced by the values this run uses."""
    training = dataclasses.replace(preset.training, **training_overrides)
    return dataclasses.replace(preset, training=training)


def resolve_options(request: dict[str, Any], resolution: int) -> TrainOptions:
    """Fill every option of a training request (keys are TrainOptions field names) for data of `resolution` px.

    Data identity (`data_content_hash`, `data_count`) comes in the request once the data is opened;
    a dry run leaves them None.
    """
    spec = get_model(request["model"])
    preset = spec.preset(request.get("preset"), resolution)
    values: dict[str, Any] = {}
    for f in fields(TrainOptions):
        given = request.get(f.name)
        if given is not None:
            values[f.name] = given
        elif f.default == FROM_PRESET:
            values[f.name] = getattr(preset.training, f.name)
        else:
            values[f.name] = f.default
    values.update(
        model=spec.name,
        model_kind=spec.kind,
        preset=preset.name,
        preset_source=preset.source,
        resolution=resolution,
        device=values["device"] or default_device(),
    )
    if values["total_kimg"] is not None and values["budget_tflops"] is not None:
        raise UserError("--kimg and --budget-tflops are two budgets: pass one of them")
    if values["total_kimg"] is None and values["minutes"] is None and values["budget_tflops"] is None:
        values["total_kimg"] = spec.default_total_kimg(preset.name)
    if values["tick_kimg"] is None:
        values["tick_kimg"] = default_tick_kimg(_budget_kimg(values), int(values["batch_size"]))
    if values["metrics"] and values["eval_kimg"] is None:
        values["eval_kimg"] = values["snapshot_kimg"]
    options = _coerce(values)
    _check(options)
    recipe = {f.name: getattr(options, f.name) for f in option_fields(recipe=True)}
    return options.replace(preset_config=json_config(effective_preset(preset, recipe)))


def _budget_kimg(values: dict[str, Any]) -> float | None:
    """The budget in kimg the default tick is cut from: --kimg, or what a counted --budget-tflops buys."""
    tflops, flops = values["budget_tflops"], values["train_flops_per_image"]
    if tflops is not None and flops and math.isfinite(tflops) and tflops > 0:
        return flops_budget_images(float(tflops), int(flops)) / 1000
    return values["total_kimg"]


def json_config(preset: Preset) -> dict[str, Any]:
    """A preset dataclass as plain JSON values."""
    return json.loads(json.dumps(dataclasses.asdict(preset)))


def _cast(hint: Any, value: Any) -> Any:
    """A value in the type a field declares (`int | None` -> int, `tuple[float, ...]` -> tuple of float)."""
    if value is None:
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _cast(args[0], value)
    if typing.get_origin(hint) is tuple:
        return tuple(_cast(args[0], v) for v in value)
    return hint(value) if hint in (int, float, str, bool) else value


def _coerce(values: dict[str, Any]) -> TrainOptions:
    """Values in their field types (CLI numbers as float/int, lists as tuples, paths as text)."""
    hints = typing.get_type_hints(TrainOptions)
    return TrainOptions(**{name: _cast(hints[name], value) for name, value in values.items()})


def check_device(device: str) -> None:
    """Validate a --device value against this machine."""
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise UserError(f"--device '{device}' is not a device; use cpu, cuda or cuda:N") from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if parsed.type not in ("cpu", "cuda"):
        raise UserError(f"--device {device}: only cpu and cuda are supported")


def _check(o: TrainOptions) -> None:
    """Refuse what one field's check cannot see (those ran when `o` was built): combinations, the machine, parsers."""
    if o.batch_size % o.world_size:
        raise UserError(
            f"--batch {o.batch_size} is the global batch and must split evenly over {o.world_size} "
            f"processes; pass a multiple of {o.world_size}"
        )
    if len(o.betas) != 2 or not all(0.0 <= b < 1.0 for b in o.betas):
        raise UserError(f"--betas must be two numbers in [0, 1), e.g. 0.5,0.99 (got {o.betas})")
    if o.ema_rampup is not None and o.ema_halflife_kimg is None:
        raise UserError(
            "--ema-rampup ramps up a half-life: pass --ema-halflife-kimg too "
            "(e.g. --ema-halflife-kimg 10 --ema-rampup 0.05)"
        )
    try:
        parse_policy(o.augment)
    except ValueError as exc:
        raise UserError(f"--augment: {exc}; e.g. color,translation,cutout or none") from exc
    parse_trackers(o.trackers)
    check_budget_tflops(o.budget_tflops, o.train_flops_per_image, o.batch_size)
    check_device(o.device)
