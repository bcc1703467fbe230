"""scripts/paired_runs.py: runs paired by model and seed, differences B − A and a Student-t interval."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "paired_runs.py"


def _script():
    """The script loaded as a module."""
    spec = importlib.util.spec_from_file_location("paired_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pairs_by_model_and_seed_whatever_the_row_order():
    a = pd.DataFrame({"model": ["m", "m", "m", "only_a"], "seed": [0, 1, 2, 0], "fid": [10.0, 20.0, 30.0, 5.0]})
    b = pd.DataFrame({"model": ["m", "m", "m"], "seed": [2, 0, 1], "fid": [33.0, 11.0, 22.0]})  # shuffled rows
    (row,) = _script().paired_rows(a, b, "fid").itertuples()
    assert row.model == "m" and row.seeds == [0, 1, 2]
    assert row.diff == [1.0, 2.0, 3.0]  # 11-10, 22-20, 33-30: B paired with A's run of the same seed
    # mean 2, sample sd 1, t(0.975, 2 dof) = 4.3027 from a t table: half-width 4.3027 / sqrt(3)
    assert math.isclose(row.mean, 2.0)
    assert math.isclose(row.hi - row.mean, 4.3027 / math.sqrt(3), rel_tol=1e-4)
    assert math.isclose(row.mean - row.lo, row.hi - row.mean)
