"""TF depth_to_space / space_to_depth versus torch pixel_shuffle / pixel_unshuffle, and the permutation that joins them.

TF's ops are written out here with numpy reshapes from their definition (NHWC; the channel axis of a
block is split as (row i, column j, channel c)), independently of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ladagan.tf_convert import tf_channel_order


def tf_depth_to_space(x: np.ndarray, r: int) -> np.ndarray:
    """NHWC depth_to_space: out[b, h*r+i, w*r+j, c] = x[b, h, w, (i*r + j)*C + c]."""
    b, h, w, ch = x.shape
    c = ch // (r * r)
    return x.reshape(b, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h * r, w * r, c)


def tf_space_to_depth(x: np.ndarray, r: int) -> np.ndarray:
    """NHWC space_to_depth: out[b, h, w, (i*r + j)*C + c] = x[b, h*r+i, w*r+j, c]."""
    b, h, w, c = x.shape
    return x.reshape(b, h // r, r, w // r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h // r, w // r, r * r * c)


def test_numpy_depth_to_space_matches_a_hand_checked_case():
    # One pixel, r=2, C=1: channels (0,1,2,3) are (i,j) = (0,0),(0,1),(1,0),(1,1) -> a 2x2 block in row order.
    x = np.arange(4).reshape(1, 1, 1, 4)
    assert tf_depth_to_space(x, 2)[0, :, :, 0].tolist() == [[0, 1], [2, 3]]
    # C=2: channel (i*r+j)*2 + c, so channels 0 and 1 are both at (0,0).
    x = np.arange(8).reshape(1, 1, 1, 8)
    assert tf_depth_to_space(x, 2)[0, 0, 0].tolist() == [0, 1]
    assert tf_space_to_depth(tf_depth_to_space(x, 2), 2).tolist() == x.tolist()


@pytest.mark.parametrize(("channels", "r"), [(8, 2), (64, 2), (36, 3), (32, 4)])
def test_pixel_shuffle_of_permuted_channels_equals_tf_depth_to_space(channels, r):
    rng = np.random.default_rng(channels + r)
    x_tf = rng.normal(size=(2, 3, 5, channels)).astype(np.float32)  # NHWC, as the TF layer would emit it
    expected = tf_depth_to_space(x_tf, r).transpose(0, 3, 1, 2)  # to NCHW for comparison
    order = tf_channel_order(channels, r)
    x_torch = torch.from_numpy(x_tf.transpose(0, 3, 1, 2)[:, order].copy())
    assert np.array_equal(F.pixel_shuffle(x_torch, r).numpy(), expected)
    # Without the permutation the two orders differ (for C > 1), so the test can tell them apart.
    assert not np.array_equal(F.pixel_shuffle(torch.from_numpy(x_tf.transpose(0, 3, 1, 2).copy()), r).numpy(), expected)


@pytest.mark.parametrize(("channels", "r"), [(4, 2), (16, 2), (3, 3)])
def test_pixel_unshuffle_equals_tf_space_to_depth_after_the_same_permutation(channels, r):
    rng = np.random.default_rng(channels * r)
    x = rng.normal(size=(2, 6, 12, channels)).astype(np.float32)
    expected = tf_space_to_depth(x, r)  # NHWC with TF's channel order
    ours = F.pixel_unshuffle(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), r).numpy().transpose(0, 2, 3, 1)
    # Our channel t holds TF's channel order[t].
    assert np.array_equal(ours, expected[..., tf_channel_order(channels * r * r, r)])


def test_order_is_a_permutation_and_trivial_for_one_channel():
    order = tf_channel_order(48, 2)
    assert sorted(order.tolist()) == list(range(48))
    assert tf_channel_order(4, 2).tolist() == [0, 1, 2, 3]  # C = 1: both orders agree
