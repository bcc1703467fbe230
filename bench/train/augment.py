"""DiffAugment (Zhao et al. 2020) with its three policies, as the LadaGAN reference applies it to D's inputs.

Written for this suite from the published description: `color` is a brightness shift in [-0.5, 0.5],
a saturation factor in [0, 2] and a contrast factor in [0.5, 1.5]; `translation` an integer shift of
up to 1/8 of the side with zero fill; `cutout` zeroes a square of half the side at a random centre
(the authors' ffhq_128 recipe uses 'color,translation,cutout'). All randomness comes from the
`torch.Generator` passed in, so a run is repeatable
under its seed and resumable by saving that generator's state.
"""

from __future__ import annotations

import torch
from torch import Tensor

KNOWN_POLICIES = ("color", "translation", "cutout")


def _uniform(x: Tensor, gen: torch.Generator) -> Tensor:
    """One U[0, 1) number per sample, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)


def color(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random brightness, saturation and contrast per sample (differentiable in x)."""
    x = x + (_uniform(x, gen) - 0.5)
    channel_mean = x.mean(dim=1, keepdim=True)
    x = (x - channel_mean) * (_uniform(x, gen) * 2.0) + channel_mean
    image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - image_mean) * (_uniform(x, gen) + 0.5) + image_mean
    return x


def translation(x: Tensor, gen: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Shift each sample by whole pixels, up to `ratio` of its side in each axis, filling with zeros."""
    batch, _, height, width = x.shape
    max_shift_h = int(height * ratio + 0.5)
    max_shift_w = int(width * ratio + 0.5)
    shift_h = torch.randint(-max_shift_h, max_shift_h + 1, (batch, 1), generator=gen, device=x.device)
    shift_w = torch.randint(-max_shift_w, max_shift_w + 1, (batch, 1), generator=gen, device=x.device)
    padded = torch.nn.functional.pad(x, (max_shift_w, max_shift_w, max_shift_h, max_shift_h))
    # Output pixel (i, j) reads padded pixel (i + pad - shift): a positive shift moves content down/right.
    rows = torch.arange(height, device=x.device)[None, :] + max_shift_h - shift_h  # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + max_shift_w - shift_w  # (B, W)
    samples = torch.arange(batch, device=x.device)[:, None, None]
    gathered = padded.permute(0, 2, 3, 1)[samples, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return gathered.permute(0, 3, 1, 2)


def cutout(x: Tensor, gen: torch.Generator, ratio: float = 0.5) -> Tensor:
    """Zero a square of side round(ratio * size) per sample at a random centre, clipped at the borders.

    As DiffAugment: the centre is uniform over [0, size + 1 - side % 2) in each axis (rows first), so
    the square may hang over any border and is then cut to the image.
    """
    batch, _, height, width = x.shape
    side_h, side_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_h = torch.randint(0, height + 1 - side_h % 2, (batch, 1), generator=gen, device=x.device)
    centre_w = torch.randint(0, width + 1 - side_w % 2, (batch, 1), generator=gen, device=x.device)
    top, left = centre_h - side_h // 2, centre_w - side_w // 2
    rows = torch.arange(height, device=x.device)[None, :]
    cols = torch.arange(width, device=x.device)[None, :]
    in_rows = (rows >= top) & (rows < top + side_h)  # (B, H)
    in_cols = (cols >= left) & (cols < left + side_w)  # (B, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (B, H, W)
    return x * keep[:, None].to(x.dtype)


_POLICY_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """Split 'color,translation' into its parts, rejecting unknown ones ('' or 'none' means no augmentation)."""
    if policy.strip().lower() in ("", "none"):
        return ()
    parts = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in parts if p not in KNOWN_POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; known: {', '.join(KNOWN_POLICIES)}")
    return parts


def diff_augment(x: Tensor, policy: str, gen: torch.Generator) -> Tensor:
    """Apply the DiffAugment policy (its parts in the given order) to a batch in [-1, 1] NCHW; gradients flow to x."""
    for part in parse_policy(policy):
        x = _POLICY_FUNCTIONS[part](x, gen)
    return x.contiguous()
