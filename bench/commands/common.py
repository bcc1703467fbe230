"""Parsers and checks shared by several commands (the option definitions live in `bench.core.options`).

Commands import the heavy layers (torch, pandas, clean-fid) inside their bodies, each such import
marked `start-up`, so that `ladabench --help` starts in under a second, not in the many seconds that
importing every layer at module top takes (check with `/usr/bin/time python -m bench.cli --help`).
"""

from __future__ import annotations

from typing import Any

from bench.core.errors import UserError


def parse_int_list(text: str, option: str, example: str = "0,1,2", minimum: int | None = None) -> list[int]:
    """`0,1,2` -> [0, 1, 2], or a UserError naming the option (and an example of a good value)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{option} '{text}' must be comma-separated integers, e.g. {option} {example}") from None
    if minimum is not None and any(v < minimum for v in values):
        raise UserError(f"{option} '{text}' must be integers >= {minimum}, e.g. {option} {example}")
    return values


def checked_device(device: str | None) -> str:
    """The --device value checked against this machine (default: cuda when available, else cpu)."""
    # start-up: the resolver imports torch (see the module docstring)
    from bench.train.resolve import check_device, default_device

    device = device or default_device()
    check_device(device)
    return device


def refuse_unused(ctx: Any, unused: list[str], why: str) -> None:
    """A UserError naming every option in `unused` (parameter names) that was typed: none is silently ignored."""
    typed = [
        p.name.upper() if p.param_type_name == "argument" else p.opts[0]
        for p in ctx.command.params
        if p.name in unused and ctx.get_parameter_source(p.name).name in ("COMMANDLINE", "ENVIRONMENT")
    ]
    if typed:
        raise UserError(
            f"{', '.join(typed)} {'has' if len(typed) == 1 else 'have'} no effect {why}; "
            f"drop {'it' if len(typed) == 1 else 'them'}"
        )
