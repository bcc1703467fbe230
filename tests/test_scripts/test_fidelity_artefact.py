"""The bright top row (issue #27): the mechanism scripts/fidelity_artefact.py measures, and the ruled-out augmentation.

The measured cause is LadaGAN's own: the final 3x3 RGB conv pads with zeros ('same', as the authors'
Conv2D), so an edge row misses the kernel row that would read outside the image; when training
makes that kernel row carry the darkening (top row: about -0.6 in [-1, 1]), the first image row
stays near the conv's bias, i.e. mid-gray. These tests pin that measurement and the translation
part of DiffAugment (its new border is the padding value 0, as tensorflow/diffaug.py, the same on
all four edges), which the measurements ruled out as an asymmetric cause.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from bench.train.augment import translation

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fidelity_artefact.py"


def _script():
    """The script loaded as a module."""
    spec = importlib.util.spec_from_file_location("fidelity_artefact", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _top_tap_conv(weight: float, bias: float) -> torch.nn.Conv2d:
    """A 1->1 channel 3x3 conv whose only nonzero tap is the top kernel row (reads the row above)."""
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, :] = weight
        conv.bias.fill_(bias)
    return conv


def test_zero_padding_leaves_only_the_first_row_at_the_bias_and_replicate_padding_removes_it():
    script = _script()
    conv = _top_tap_conv(weight=-0.3, bias=0.0)
    features = torch.ones(2, 1, 8, 8)
    out = conv(features)
    # Interior and every other edge: three taps of -0.3 on ones; the first row reads the zero padding.
    assert torch.allclose(out[:, :, 1:, 1:-1], torch.full_like(out[:, :, 1:, 1:-1], -0.9))
    assert torch.allclose(out[:, :, 0], torch.zeros_like(out[:, :, 0]))
    fixed = script.replicate_padded_rgb(conv, features)
    assert torch.allclose(fixed, torch.full_like(fixed, -0.9))


def test_tap_contributions_name_the_kernel_row_that_darkens():
    script = _script()
    conv = _top_tap_conv(weight=-0.3, bias=0.5)
    taps = script.tap_contributions(conv, torch.ones(1, 1, 8, 8))
    assert taps["kernel_rows"] == pytest.approx([-0.9, 0.0, 0.0])
    assert taps["kernel_cols"] == pytest.approx([-0.3, -0.3, -0.3])


def test_edges_reads_rows_columns_and_interior():
    script = _script()
    values = torch.zeros(6, 6)
    values[0] = 100.0
    values[:, -1] = 50.0
    e = script.edges(values.numpy())
    assert e["row0"] == pytest.approx((5 * 100 + 50) / 6)
    assert e["row1"] == pytest.approx(50 / 6)
    assert e["col_last"] == pytest.approx(50.0)
    assert e["interior"] == 0.0


def test_translation_fills_the_new_border_with_the_padding_value_on_all_four_edges():
    # A black image (-1, the data's background): a shifted copy's new border is 0, as tensorflow/diffaug.py.
    x = -torch.ones(4000, 1, 32, 32)
    out = translation(x, torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {-1.0, 0.0}
    fill = out[:, 0] == 0
    # Row 0 is fill for a shift of +1..+4 of 9 equally likely shifts, i.e. 4/9; row 4 never (shift <= 4).
    top, bottom = fill[:, 0, 10].float().mean(), fill[:, -1, 10].float().mean()
    left, right = fill[:, 10, 0].float().mean(), fill[:, 10, -1].float().mean()
    for rate in (top, bottom, left, right):
        assert abs(rate.item() - 4 / 9) < 0.03
    assert not fill[:, 4:-4, 4:-4].any()
