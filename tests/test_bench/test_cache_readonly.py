"""A read-only cache: reference features are read, not rewritten; missing ones are computed, not cached (a warning)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from clicheck import error_lines, fingerprint, read_only, subprocess_env
from threads import one_torch_thread

from bench.cli import main

EVAL = ["eval", "--metrics", "fid10_train", "--features", "random-conv", "--sample-seeds", "0"]


def _eval(prefix: list[str], run, cache) -> subprocess.CompletedProcess:
    """`ladabench eval RUN` in a subprocess whose cache is `cache` (read-only under `prefix`)."""
    argv = [*prefix, sys.executable, "-m", "bench.cli", *EVAL[:1], str(run), *EVAL[1:]]
    env = subprocess_env(LADABENCH_CACHE=str(cache), LADABENCH_NO_PROGRESS="1")
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _values(run) -> list[float]:
    """The FID values of the run's metric lines, in order."""
    path = run / "metric-fid10_train-random-conv.jsonl"
    return [json.loads(line)["value"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_a_read_only_cache_is_read_and_a_missing_entry_is_computed_without_caching(run_copy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LADABENCH_CACHE", str(cache))
    with one_torch_thread():
        assert main([*EVAL[:1], str(run_copy), *EVAL[1:]]) == 0  # fills the cache: dataset + reference features
    before = fingerprint(cache, skip=())
    with read_only(cache) as prefix:
        done = _eval(prefix, run_copy, cache)
    assert done.returncode == 0 and error_lines(done.stderr) == [], done.stderr
    assert "reference features fashion10k n=10: reused cached" in done.stdout
    assert fingerprint(cache, skip=()) == before  # read, not rewritten

    no_features = tmp_path / "no-features"  # the prepared dataset only: the reference must be computed
    shutil.copytree(cache / "datasets", no_features / "datasets")
    with read_only(no_features) as prefix:
        done = _eval(prefix, run_copy, no_features)
    assert done.returncode == 0, done.stderr
    (warning,) = error_lines(done.stderr)
    assert warning.startswith(
        f"warning: reference features not cached: cannot write in {no_features / 'fid-features'} ("
    )
    assert warning.endswith("); set $LADABENCH_CACHE to a writable folder to keep them")
    assert sorted(p.name for p in no_features.iterdir()) == ["datasets"]
    values = _values(run_copy)
    assert len(values) == 3 and values[0] == values[1] == values[2]  # computed again: the same features, the same FID

    empty = tmp_path / "empty"
    empty.mkdir()
    with read_only(empty) as prefix:
        done = _eval(prefix, run_copy, empty)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = error_lines(done.stderr)
    assert line.startswith("error: cannot create the dataset cache (") and str(empty / "datasets") in line
    assert line.endswith("); set $LADABENCH_CACHE to a writable folder")
    assert not any(empty.iterdir()) and len(_values(run_copy)) == 3
