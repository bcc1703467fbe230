"""Converting the authors' TF variables: the fixture's G_ema, G and D reproduce the outputs TF computed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tf_fixture import NAMES, expected, fixture_preset, load_variables, needs_tensorflow

from ladagan import Discriminator, Generator
from ladagan.tf_convert import NETWORKS, ConversionError, convert_discriminator, convert_generator

pytestmark = [needs_tensorflow, pytest.mark.slow]  # TensorFlow starts in a child process: seconds


def _generator(name: str, network: str) -> Generator:
    preset = fixture_preset(name)
    G = Generator(preset.generator, init=False)
    G.load_state_dict(convert_generator(load_variables(name), network, preset.generator, G))
    return G.eval()


def _discriminator(name: str) -> Discriminator:
    preset = fixture_preset(name)
    D = Discriminator(preset.discriminator, init=False)
    D.load_state_dict(convert_discriminator(load_variables(name), preset.discriminator, D))
    return D


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("network", "saved"), [(NETWORKS["G_ema"], "g_ema"), (NETWORKS["G"], "g")])
def test_generator_reproduces_tf_outputs(name, network, saved):
    z = torch.from_numpy(expected(name, "z"))
    with torch.no_grad():
        ours = _generator(name, network)(z).permute(0, 2, 3, 1).numpy()  # NCHW -> TF's NHWC
    theirs = expected(name, saved)
    assert ours.dtype == np.float32
    assert np.abs(ours - theirs).max() <= 1e-5
    assert np.abs(theirs).max() > 0.5  # the comparison is not between two near-zero images


@pytest.mark.parametrize("name", NAMES)
def test_discriminator_reproduces_tf_logits(name):
    D = _discriminator(name)
    images = torch.from_numpy(expected(name, "g_ema")).permute(0, 3, 1, 2)
    with torch.no_grad():
        inference = D.eval()(images).numpy()  # BatchNorm from the moving statistics
        training = D.train()(images).numpy()  # batch statistics, as the authors always call D
    assert np.abs(inference - expected(name, "d_eval")).max() <= 1e-5
    # Batch statistics over 2 images amplify float32 round-off: our own float32 and float64 logits
    # differ by up to 3e-5 on logits up to ~9 here, so the bound is 1e-5 relative to the logit scale.
    theirs = expected(name, "d_train")
    assert np.abs(training - theirs).max() <= 1e-5 * max(1.0, np.abs(theirs).max())


def test_generator_and_ema_generator_are_different_weights():
    z = torch.from_numpy(expected("micro64", "z"))
    with torch.no_grad():
        g, g_ema = _generator("micro64", NETWORKS["G"])(z), _generator("micro64", NETWORKS["G_ema"])(z)
    assert (g - g_ema).abs().max() > 0.1  # the clone started from other weights: a mix-up would show


def test_wrong_resolution_lists_the_first_mismatches():
    variables = load_variables("micro128")
    preset = fixture_preset("micro64")
    G = Generator(preset.generator, init=False)
    with pytest.raises(ConversionError) as info:
        convert_generator(variables, NETWORKS["G_ema"], preset.generator, G)
    message = str(info.value)
    assert message.startswith("ema_generator: ")
    assert "unexpected ema_generator/dec/layer_with_weights-0/bias" in message
    assert "to_rgb.weight is (3, 4, 3, 3) in the checkpoint but (3, 2, 3, 3) here" in message


def test_missing_variable_is_named():
    variables = dict(load_variables("micro64"))
    del variables["discriminator/conv_4/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    preset = fixture_preset("micro64")
    with pytest.raises(ConversionError, match=r"^discriminator: 1 mismatch \(missing discriminator/conv_4/kernel\)$"):
        convert_discriminator(variables, preset.discriminator, Discriminator(preset.discriminator, init=False))
