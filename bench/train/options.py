"""Resolve `ladabench train` options into one JSON-able dict, and list how two such dicts differ.

Every value the user did not give comes from the preset (recipe), the dataset (resolution) or a
documented default here, so `options.json` alone says exactly how a run was trained.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import torch

from bench.errors import UserError

AMP_MODES = ("off", "bf16", "fp16")

# Options that describe one session of a run rather than the run itself: they may change on resume.
SESSION_KEYS = frozenset({"device", "out", "data_root", "stop_kimg", "compile", "keep_snapshots", "world_size"})

# Budget when neither --kimg nor --minutes is given: the images the reference's released checkpoints
# had seen (milmor/LadaGAN tf/utils.py, see shared/reference/ladagan.md §5.2); our choice elsewhere.
DEFAULT_KIMG_BY_PRESET = {"cifar10": 68_096.0, "celeba64": 72_192.0, "ffhq128": 24_064.0}
DEFAULT_KIMG = 10_000.0  # presets with no reference count (bedroom256, baselines at those sizes)
DEFAULT_TINY_KIMG = 100.0  # tiny presets are for smoke runs and the CPU quick benchmark
MAX_TICK_KIMG = 4.0  # StyleGAN's tick length; shorter runs get ~10 ticks
DEFAULT_SNAPSHOT_KIMG = 200.0
DEFAULT_KEEP_SNAPSHOTS = 3  # the newest K snapshots stay on disk; 0 keeps all


def _jsonable(value: Any) -> Any:
    """Dataclasses and tuples as plain JSON values (so stored and fresh options compare equal)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value))


def default_device() -> str:
    """CUDA when available, else CPU (the same code path runs on both)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_device(device: str) -> str:
    """Validate a --device value against this machine."""
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise UserError(f"--device '{device}' is not a device; use cpu, cuda or cuda:N") from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if parsed.type not in ("cpu", "cuda"):
        raise UserError(f"--device {device}: only cpu and cuda are supported")
    return device


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    """Reject a non-positive (or non-finite) numeric option with the flag's name."""
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a positive number (got {value})")


def effective_preset(preset: Any, training_overrides: dict[str, Any]) -> Any:
    """The preset with its training recipe replaced by the values this run uses."""
    training = dataclasses.replace(preset.training, **training_overrides)
    return dataclasses.replace(preset, training=training)


def default_total_kimg(preset_name: str) -> float:
    """The budget a preset trains for when the user gives neither --kimg nor --minutes."""
    if preset_name.startswith("tiny"):
        return DEFAULT_TINY_KIMG
    return DEFAULT_KIMG_BY_PRESET.get(preset_name, DEFAULT_KIMG)


def default_tick_kimg(total_kimg: float | None, batch_size: int) -> float:
    """Progress/stats interval: ~1/10 of the budget, at least one batch, at most 4 kimg."""
    if total_kimg is None:
        return MAX_TICK_KIMG
    return min(MAX_TICK_KIMG, max(batch_size / 1000, total_kimg / 10))


def resolve_options(request: dict[str, Any], resolution: int) -> dict[str, Any]:
    """Fill every option of a training request (None = default) for data of `resolution` px.

    `request` has the CLI's keys (model, data, preset, kimg, minutes, batch, ...); the result is what
    `options.json` holds. Data identity (`data_content_hash`, `data_count`) is added by the caller
    once the data is opened; a dry run leaves them None.
    """
    from bench.registry import get_model

    spec = get_model(request["model"])
    preset = spec.preset(request.get("preset"), resolution)
    recipe = preset.training
    pick = lambda key, default: default if request.get(key) is None else request[key]  # noqa: E731

    batch_size = int(pick("batch_size", recipe.batch_size))
    _positive("--batch", batch_size)
    world_size = int(request.get("world_size") or 1)
    if batch_size % world_size:
        raise UserError(
            f"--batch {batch_size} is the global batch and must split evenly over {world_size} processes; "
            f"pass a multiple of {world_size}"
        )
    keep_snapshots = int(pick("keep_snapshots", DEFAULT_KEEP_SNAPSHOTS))
    if keep_snapshots < 0:
        raise UserError(f"--keep-snapshots must be >= 0 (0 keeps every snapshot; got {keep_snapshots})")
    lr_g, lr_d = float(pick("lr_g", recipe.lr_g)), float(pick("lr_d", recipe.lr_d))
    _positive("--lr-g", lr_g)
    _positive("--lr-d", lr_d)
    betas = tuple(float(b) for b in pick("betas", recipe.betas))
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise UserError(f"--betas must be two numbers in [0, 1), e.g. 0.5,0.99 (got {betas})")
    r1_gamma = float(pick("r1_gamma", recipe.r1_gamma))
    if not math.isfinite(r1_gamma) or r1_gamma < 0:
        raise UserError(f"--r1-gamma must be >= 0 (got {r1_gamma})")
    ema_decay = float(pick("ema_decay", recipe.ema_decay))
    if not 0.0 <= ema_decay <= 1.0:
        raise UserError(f"--ema-decay must be in [0, 1] (got {ema_decay})")

    minutes = request.get("minutes")
    _positive("--minutes", minutes, allow_none=True)
    total_kimg = request.get("total_kimg")
    if total_kimg is None and minutes is None:
        total_kimg = default_total_kimg(preset.name)
    _positive("--kimg", total_kimg, allow_none=True)
    tick_kimg = float(pick("tick_kimg", default_tick_kimg(total_kimg, batch_size)))
    _positive("--tick-kimg", tick_kimg)
    snapshot_kimg = float(pick("snapshot_kimg", DEFAULT_SNAPSHOT_KIMG))
    _positive("--snapshot-kimg", snapshot_kimg)
    stop_kimg = request.get("stop_kimg")
    _positive("--stop-kimg", stop_kimg, allow_none=True)

    amp = pick("amp", "off")
    if amp not in AMP_MODES:
        raise UserError(f"--amp '{amp}' is unknown; use one of {', '.join(AMP_MODES)}")
    metrics = list(pick("metrics", []) or [])
    eval_kimg = request.get("eval_kimg")
    if metrics and eval_kimg is None:
        eval_kimg = snapshot_kimg
    _positive("--eval-kimg", eval_kimg, allow_none=True)

    overrides = {"batch_size": batch_size, "lr_g": lr_g, "lr_d": lr_d, "betas": betas,
                 "r1_gamma": r1_gamma, "ema_decay": ema_decay}
    return {
        "model": spec.name,
        "model_kind": spec.kind,
        "preset": preset.name,
        "preset_source": preset.source,
        "data": request["data"],
        "data_root": request.get("data_root"),
        "data_content_hash": request.get("data_content_hash"),
        "data_count": request.get("data_count"),
        "resolution": resolution,
        "seed": int(pick("seed", 0)),
        "batch_size": batch_size,
        "total_kimg": total_kimg,
        "minutes": minutes,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "betas": list(betas),
        "adam_eps": float(recipe.adam_eps),
        "r1_gamma": r1_gamma,
        "ema_decay": ema_decay,
        "augment": recipe.augment,
        "amp": amp,
        "compile": bool(pick("compile", False)),
        "deterministic": bool(pick("deterministic", False)),
        "device": _check_device(pick("device", default_device())),
        "tick_kimg": tick_kimg,
        "snapshot_kimg": snapshot_kimg,
        "keep_snapshots": keep_snapshots,
        "world_size": world_size,
        "eval_kimg": eval_kimg,
        "metrics": metrics,
        "stop_kimg": stop_kimg,
        "out": str(pick("out", "runs")),
        "preset_config": _jsonable(effective_preset(preset, overrides)),
    }


def differences(stored: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Human-readable 'key: old -> new' lines for every non-session option that differs."""
    lines = []
    for key in sorted(set(stored) | set(fresh)):
        if key in SESSION_KEYS:
            continue
        old, new = _jsonable(stored.get(key)), _jsonable(fresh.get(key))
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            lines += [f"{key}.{line}" for line in differences(old, new)]
        else:
            lines.append(f"{key}: {json.dumps(old)} -> {json.dumps(new)}")
    return lines
