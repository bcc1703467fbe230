"""The tiny TensorFlow checkpoints under tests/fixtures/tf_ladagan (made by scripts/make_tf_fixture.py)."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from ladagan.presets import Preset
from ladagan.tf_config import architecture_from_config

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "tf_ladagan"
NAMES = ("micro64", "micro128")
# Looked up, never imported here: TensorFlow in the test process would crash a later triton import.
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="reading TF checkpoints needs TensorFlow (pip install 'ladabench[tf]')",
)


def fixture_preset(name: str) -> Preset:
    """A preset with the fixture's architecture (tests register it; the fixtures are far below any real width)."""
    g, d = architecture_from_config(json.loads((ROOT / name / "config.json").read_text()))
    return Preset(name=name, resolution=g.img_size, generator=g, discriminator=d, source="test fixture")


@functools.cache
def load_variables(name: str) -> dict[str, np.ndarray]:
    """The G, G_ema and D variables of a fixture checkpoint, read by TensorFlow (in a child process)."""
    from bench.train.tf_checkpoint import locate, read_variables

    variables, _ = read_variables(locate(ROOT / name), keep=("generator/", "ema_generator/", "discriminator/"))
    return variables


def expected(name: str, what: str) -> np.ndarray:
    """A saved TF output (`z`, `g_ema`, `g`, `d_train`, `d_eval`)."""
    return np.load(ROOT / name / "expected" / f"{what}.npy")
