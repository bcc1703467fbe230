"""The public API: `from ladabench import train, TrainOptions, RunDir, ...` works, and importing it loads no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _fresh_python(code: str) -> str:
    """Run `code` in a new interpreter at the repository root (nothing imported yet); return its stdout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("package", ["ladabench", "bench"])
def test_importing_the_package_imports_no_torch(package):
    # Lazy names keep `ladabench --help` fast: torch is loaded only when a name that needs it is used.
    loaded = _fresh_python(
        f"import sys, {package}; print(sorted(m for m in ('torch', 'bench.train') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_every_public_name_is_the_object_its_module_defines():
    import ladabench
    from bench.core.rundir import RunDir
    from bench.metrics.evaluate import evaluate_snapshot
    from bench.train.loop import TrainHooks
    from bench.train.options import TrainOptions
    from bench.train.session import Resume, train
    from bench.train.snapshots import load_generator
    from ladabench import RunDir as api_run_dir
    from ladabench import TrainOptions as api_options
    from ladabench import train as api_train

    assert (api_train, api_options, api_run_dir) == (train, TrainOptions, RunDir)
    expected = [train, Resume, TrainHooks, TrainOptions, RunDir, load_generator, evaluate_snapshot]
    assert [getattr(ladabench, name) for name in ladabench.PUBLIC] == expected
    assert set(ladabench.PUBLIC) <= set(dir(ladabench)) and callable(ladabench.train)


def test_an_unknown_name_is_an_attribute_error():
    import ladabench

    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        ladabench.trian  # noqa: B018 - the access itself is the test
