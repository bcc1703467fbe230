"""Test-wide settings: every test run uses its own cache folder, never the user's ~/.cache."""

from __future__ import annotations

import os

import pytest

# Rich wraps table cells at the terminal width; a wide virtual terminal keeps messages on one line
# so tests can search them. Set before any test imports the CLI (its consoles read it at creation).
os.environ.setdefault("COLUMNS", "200")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point LADABENCH_CACHE at a temporary folder for the whole session (tests may override it)."""
    old = os.environ.get("LADABENCH_CACHE")
    os.environ["LADABENCH_CACHE"] = str(tmp_path_factory.mktemp("ladabench-cache"))
    yield
    if old is None:
        os.environ.pop("LADABENCH_CACHE", None)
    else:
        os.environ["LADABENCH_CACHE"] = old
