"""Ctrl-C / SIGTERM during `ladabench train`: snapshot, lock released, one line, exit 130, and a working resume."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clicheck import TINY, error_lines, subprocess_env, wait_until
from threads import one_torch_thread

from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.state import load_snapshot


def _start(out: Path, kimg: str) -> subprocess.Popen:
    """A real `python -m bench.cli train` subprocess (one thread, this checkout importable)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "train", *TINY, "--kimg", kimg, "--out", str(out)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_tick(out: Path, proc: subprocess.Popen) -> Path:
    """The run folder, once its first tick's stats line is on disk."""
    wait_until(lambda: any(p.read_text().strip() for p in out.glob("*/stats.jsonl")), proc)
    return next(out.glob("*/stats.jsonl")).parent


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_snapshots_releases_the_lock_exits_130_and_the_run_resumes_to_its_budget(
    tmp_path, capsys, signum
):
    out = tmp_path / "runs"
    proc = _start(out, "0.2")  # 25 iterations: far more than pass before the signal lands
    run = _wait_for_first_tick(out, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    messages = error_lines(stderr)
    assert len(messages) == 1, stderr  # one line, no traceback
    line = messages[0]
    snapshots = RunDir(run).snapshots()
    assert len(snapshots) == 1  # the default --snapshot-kimg is far off: this one was written by the signal
    images = load_snapshot(snapshots[0])["images_seen"]  # loads and passes its checksum
    assert 8 <= images < 200 and images % 8 == 0
    assert line == f"interrupted at {images / 1000:g} kimg; resume with: ladabench train --resume {run}"
    assert not (run / "train.lock").exists()
    assert not RunDir(run).partial_writes()
    assert f"stopped (interrupted) at {images} images" in (run / "log.txt").read_text()

    with one_torch_thread():
        assert main(["train", "--resume", str(run)]) == 0
    assert f"resumed from {snapshots[0].name} at {images} images" in (run / "log.txt").read_text()
    assert load_snapshot(RunDir(run).snapshots()[-1])["images_seen"] == 200


@pytest.mark.slow
def test_a_second_sigint_aborts_at_once_leaving_no_partial_file_and_every_snapshot_whole(tmp_path):
    out = tmp_path / "runs"
    proc = _start(out, "0.2")
    run = _wait_for_first_tick(out, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0, (stdout, stderr)
    assert not RunDir(run).partial_writes()
    assert not (run / "train.lock").exists()
    for path in RunDir(run).snapshots():
        load_snapshot(path)  # raises on a torn or mismatching file
