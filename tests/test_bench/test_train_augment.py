"""DiffAugment: it changes the images, is repeatable under a seed, and translates with zero fill."""

from __future__ import annotations

import pytest
import torch

from bench.train.augment import color, cutout, diff_augment, parse_policy, translation


def _batch():
    """Six random 16x16 RGB images in [-1, 1]."""
    torch.manual_seed(0)
    return torch.rand(6, 3, 16, 16) * 2 - 1


def test_same_seed_same_output_other_seed_other_output():
    x = _batch()
    a = diff_augment(x, "color,translation", torch.Generator().manual_seed(5))
    b = diff_augment(x, "color,translation", torch.Generator().manual_seed(5))
    c = diff_augment(x, "color,translation", torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.allclose(a, x)
    # Each sample gets its own draw: no two samples are changed by the same brightness offset.
    offsets = (color(x, torch.Generator().manual_seed(1)) - x).mean(dim=(1, 2, 3))
    assert len(set(offsets.round(decimals=4).tolist())) == len(x)


def test_translation_shifts_by_whole_pixels_with_zero_fill():
    x = torch.arange(16 * 16, dtype=torch.float32).reshape(1, 1, 16, 16).repeat(8, 3, 1, 1) + 1  # all > 0
    out = translation(x, torch.Generator().manual_seed(3))
    max_shift = 2  # 1/8 of 16
    seen_shift = False
    for i in range(len(x)):
        found = None
        for dy in range(-max_shift, max_shift + 1):
            for dx in range(-max_shift, max_shift + 1):
                shifted = torch.zeros_like(x[i])
                src = x[i][:, max(0, -dy) : 16 - max(0, dy), max(0, -dx) : 16 - max(0, dx)]
                shifted[:, max(0, dy) : 16 - max(0, -dy), max(0, dx) : 16 - max(0, -dx)] = src
                if torch.equal(out[i], shifted):
                    found = (dy, dx)
        assert found is not None, f"sample {i} is not an integer shift with zero fill"
        seen_shift |= found != (0, 0)
    assert seen_shift


def test_color_ranges_follow_the_policy():
    # A constant grey image: saturation and contrast do nothing, so only brightness in [-0.5, 0.5] remains.
    x = torch.zeros(64, 3, 4, 4)
    out = color(x, torch.Generator().manual_seed(0))
    shift = out[:, 0, 0, 0]
    assert shift.min() >= -0.5 and shift.max() <= 0.5 and shift.std() > 0.1
    assert torch.allclose(out, shift[:, None, None, None].expand_as(out), atol=1e-6)


def test_gradients_flow_through_augmentation():
    x = _batch().requires_grad_(True)
    diff_augment(x, "color,translation", torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def _cutout_mask_by_scatter(size: int, centres_h: list[int], centres_w: list[int]) -> torch.Tensor:
    """DiffAugment's construction: every (row, col) of the side x side grid, clipped to the image, set to 0."""
    side = int(size * 0.5 + 0.5)
    mask = torch.ones(len(centres_h), size, size)
    for i, (ch, cw) in enumerate(zip(centres_h, centres_w, strict=True)):
        for a in range(side):
            for b in range(side):
                r = min(max(ch + a - side // 2, 0), size - 1)
                c = min(max(cw + b - side // 2, 0), size - 1)
                mask[i, r, c] = 0.0
    return mask


@pytest.mark.parametrize("size", [16, 14])  # even and odd square side
def test_cutout_matches_an_independently_built_mask(size):
    x = torch.rand(40, 3, size, size) + 0.5  # all > 0, so a zero is a cut pixel
    out = cutout(x, torch.Generator().manual_seed(11))
    # The centres, drawn as DiffAugment draws them: rows then columns, uniform in [0, size + 1 - side % 2).
    side = int(size * 0.5 + 0.5)
    gen = torch.Generator().manual_seed(11)
    high = size + 1 - side % 2
    centres_h = torch.randint(0, high, (40, 1), generator=gen).flatten().tolist()
    centres_w = torch.randint(0, high, (40, 1), generator=gen).flatten().tolist()
    expected = x * _cutout_mask_by_scatter(size, centres_h, centres_w)[:, None]
    assert torch.equal(out, expected)
    # Some squares hang over a border (clipped), and every sample lost at most side x side pixels per channel.
    cut = (out[:, 0] == 0).sum(dim=(1, 2))
    assert cut.max() == side * side and cut.min() < side * side


def test_cutout_is_part_of_the_policy_and_seeded():
    x = _batch()
    a = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(2))
    b = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(2))
    no_cut = diff_augment(x, "color,translation", torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    zeroed = (a == 0) & (no_cut != 0)
    assert zeroed.any()
    # Outside the cut squares the images are those of 'color,translation' with the same draws.
    assert torch.equal(a[~zeroed], no_cut[~zeroed])


def test_unknown_policy_is_rejected():
    assert parse_policy("none") == ()
    with pytest.raises(ValueError, match="cutmix"):
        parse_policy("color,cutmix")
