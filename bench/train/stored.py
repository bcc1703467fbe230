"""Check a stored options.json before its values are used: each field's JSON type, and the counts and budgets in range.

A hand-edited or damaged file (`"total_kimg": "abc"`, `"batch_size": -3`) would otherwise fail deep in
training, evaluation or a report with a traceback, or be used silently.
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any

from bench.core.errors import UserError

POSITIVE = (
    "batch_size",
    "resolution",
    "data_count",
    "total_kimg",
    "minutes",
    "lr_g",
    "lr_d",
    "tick_kimg",
    "snapshot_kimg",
    "world_size",
    "eval_kimg",
    "stop_kimg",
    "ema_halflife_kimg",
    "ema_rampup",
)
NOT_NEGATIVE = ("keep_snapshots", "r1_gamma", "cr_weight", "adam_eps", "ema_decay")
_KINDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false", dict: "a JSON object"}
_PLURALS = {float: "numbers", str: "strings", int: "whole numbers"}


def _base(hint: Any) -> Any:
    """The hint without `| None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a field declares (a whole number for int; a finite one for float)."""
    hint = _base(hint)
    origin = typing.get_origin(hint) or hint
    if origin is tuple:
        return isinstance(value, list | tuple) and all(_fits(v, typing.get_args(hint)[0]) for v in value)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, origin) if origin in _KINDS else True


def _kind(hint: Any) -> str:
    """How an error names the type a field wants."""
    hint = _base(hint)
    if typing.get_origin(hint) is tuple:
        return f"a list of {_PLURALS[typing.get_args(hint)[0]]}"
    return _KINDS.get(typing.get_origin(hint) or hint, "another value")


def check_stored(values: dict[str, Any], hints: dict[str, Any], where: str) -> None:
    """A UserError naming the file and the field when a stored value has the wrong type or is out of range."""
    for name, value in values.items():
        if value is None or name not in hints:
            continue  # None: not given (the field's default applies)
        fix = "restore the file or start the run again"
        if not _fits(value, hints[name]):
            raise UserError(f"{where}: field '{name}' is {json.dumps(value)}, not {_kind(hints[name])}; {fix}")
        if (name in POSITIVE and value <= 0) or (name in NOT_NEGATIVE and value < 0):
            bound = "positive" if name in POSITIVE else "at least 0"
            raise UserError(f"{where}: field '{name}' is {json.dumps(value)}; it must be {bound}; {fix}")
