"""Fixtures shared by the bench tests: one tiny stopped run per session, copied for tests that change it."""

from __future__ import annotations

from pathlib import Path

import pytest
from clicheck import copy_run, train_stopped_run
from threads import one_torch_thread


@pytest.fixture(scope="session")
def stopped_run(tmp_path_factory) -> Path:
    """A run stopped at 16 of 32 images (snapshot-000000.016.pt); read it only, or take `run_copy`."""
    return train_stopped_run(tmp_path_factory.mktemp("stopped"))


@pytest.fixture
def run_copy(stopped_run, tmp_path) -> Path:
    """A private copy of the stopped run."""
    return copy_run(stopped_run, tmp_path)


@pytest.fixture
def one_thread():
    """One torch intra-op thread per test (as subprocesses with OMP_NUM_THREADS=1); opt in with pytestmark."""
    with one_torch_thread():
        yield
