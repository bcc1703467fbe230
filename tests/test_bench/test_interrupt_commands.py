"""Ctrl-C / SIGTERM during `eval`, `bench`, `data prepare`: one line, exit 130, nothing partial; a grid goes on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from clicheck import error_lines, fingerprint, start_cli, wait_until
from PIL import Image
from threads import one_torch_thread

from bench.cli import main
from bench.core.files import PARTIAL_WRITE_GLOB
from bench.core.rundir import RunDir
from bench.train.state import load_snapshot


def _stderr(out: Path) -> str:
    """What the subprocess wrote to stderr so far."""
    return (out / "stderr.txt").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_eval_exits_130_with_one_line_and_writes_nothing(run_copy, tmp_path, signum):
    before = fingerprint(run_copy, skip=())
    cache = tmp_path / "cache"  # a fresh cache: the reference features are being computed when the signal lands
    proc = start_cli(
        ["eval", str(run_copy), "--metrics", "fid2000_train", "--features", "random-conv", "--sample-seeds", "0"],
        tmp_path / "io",
        LADABENCH_CACHE=str(cache),
    )
    wait_until(lambda: "reference features fashion10k (2000)" in _stderr(tmp_path / "io"), proc)
    proc.send_signal(signum)
    assert proc.wait(timeout=120) == 130
    err = _stderr(tmp_path / "io")
    assert "Traceback" not in err
    assert error_lines(err)[-1] == (
        "interrupted; no partial metric line or cache file was written (each is written whole); "
        f"rerun the same command to evaluate {run_copy}"
    )
    assert fingerprint(run_copy, skip=()) == before  # no metric line
    assert list(cache.glob("fid-features/*")) == []  # the reference being computed was not cached, not even in part
    assert not list(cache.rglob(PARTIAL_WRITE_GLOB)) and not list(cache.rglob("*.tmp*"))


GRID = [
    "bench",
    "quick",
    "--kimg",
    "0.064",
    "--batch",
    "8",
    "--num-gen",
    "10",
    "--no-profile",
    "--features",
    "random-conv",
]


@pytest.mark.slow
def test_a_stopped_bench_says_how_to_continue_and_the_same_command_finishes_it(tmp_path):
    runs, report = tmp_path / "runs", tmp_path / "rep" / "q.md"
    args = [*GRID, "--runs-dir", str(runs), "--out", str(report)]
    proc = start_cli(args, tmp_path / "io")
    wait_until(lambda: any(p.read_text().strip() for p in runs.glob("*/stats.jsonl")), proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = _stderr(tmp_path / "io")
    assert "Traceback" not in err
    assert error_lines(err)[-1] == (
        f"interrupted; to continue, rerun `ladabench {' '.join(args)}`: finished runs and "
        "evaluations are reused and an unfinished run resumes from its last snapshot "
        "(nothing partial was written)"
    )
    stopped = RunDir.children(runs)  # one run per worker that was training (the grid stops them all)
    assert stopped
    snapshots = {}
    for run in stopped:
        (snapshot,) = run.snapshots()  # written by the signal (the budget's own snapshot comes only at the end)
        snapshots[run.path] = (snapshot, load_snapshot(snapshot)["images_seen"])
        assert 8 <= snapshots[run.path][1] < 64 and not (run.path / "train.lock").exists()
    assert not list(tmp_path.rglob(PARTIAL_WRITE_GLOB)) and not report.parent.exists()

    with one_torch_thread():
        assert main(args) == 0  # the same command again
    for path, (snapshot, images) in snapshots.items():
        assert f"resumed from {snapshot.name} at {images} images" in (path / "log.txt").read_text()
    assert len(RunDir.children(runs)) == 4 and all(run.images_seen() == 64 for run in RunDir.children(runs))
    assert report.is_file()


@pytest.mark.slow
def test_a_stopped_data_prepare_leaves_no_cache_file(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "img00000.png")
    for i in range(1, 4000):  # the same file under many names: a folder that takes seconds to decode
        os.link(folder / "img00000.png", folder / f"img{i:05d}.png")
    name, cache = f"folder:{folder}@32", tmp_path / "cache"
    proc = start_cli(["data", "prepare", name], tmp_path / "io", LADABENCH_CACHE=str(cache))
    wait_until(lambda: "decoding" in _stderr(tmp_path / "io"), proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = _stderr(tmp_path / "io")
    assert "Traceback" not in err
    assert error_lines(err)[-1] == (
        f"interrupted; the dataset cache was not written (nothing partial is left); "
        f"rerun `ladabench data prepare {name}` to prepare it"
    )
    assert [p for p in cache.rglob("*") if p.is_file()] == []
