"""The tiny TensorFlow checkpoints under tests/fixtures/tf_ladagan (made by scripts/make_tf_fixture.py)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from ladagan.presets import Preset
from ladagan.tf_config import architecture_from_config

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "tf_ladagan"
NAMES = ("micro64", "micro128")


def fixture_preset(name: str) -> Preset:
    """A preset with the fixture's architecture (tests register it; the fixtures are far below any real width)."""
    g, d = architecture_from_config(json.loads((ROOT / name / "config.json").read_text()))
    return Preset(name=name, resolution=g.img_size, generator=g, discriminator=d, source="test fixture")


@functools.cache
def load_variables(name: str) -> dict[str, np.ndarray]:
    """Every numeric variable of a fixture checkpoint, read by TensorFlow itself (skips without TensorFlow)."""
    tf = pytest.importorskip("tensorflow")
    prefix = str(next((ROOT / name / "best-training-checkpoints").glob("*.index"))).removesuffix(".index")
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k, dtype in reader.get_variable_to_dtype_map().items() if dtype != tf.string}


def expected(name: str, what: str) -> np.ndarray:
    """A saved TF output (`z`, `g_ema`, `g`, `d_train`, `d_eval`)."""
    return np.load(ROOT / name / "expected" / f"{what}.npy")
