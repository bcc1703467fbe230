"""Ctrl-C / SIGTERM during `ladabench train`: snapshot, lock released, one line, exit 130, and a working resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from threads import one_torch_thread

from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.state import load_snapshot

REPO = Path(__file__).resolve().parents[2]
TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def _start(out: Path, kimg: str) -> subprocess.Popen:
    """A real `python -m bench.cli train` subprocess (one thread, this checkout importable)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "bench.cli", "train", *TINY, "--kimg", kimg, "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_first_tick(out: Path, proc: subprocess.Popen, timeout_s: float = 120.0) -> Path:
    """The run folder, once its first tick's stats line is on disk."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = list(out.glob("*/stats.jsonl"))
        if stats and stats[0].read_text().strip():
            return stats[0].parent
        if proc.poll() is not None:
            pytest.fail(f"training ended (rc {proc.returncode}) before the first tick: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no tick within the time limit")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_snapshots_releases_the_lock_exits_130_and_the_run_resumes_to_its_budget(tmp_path, capsys, signum):
    out = tmp_path / "runs"
    proc = _start(out, "0.2")  # 25 iterations: far more than pass before the signal lands
    run = _wait_for_first_tick(out, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    messages = [ln for ln in stderr.splitlines() if ln.strip() and "reading fashion10k" not in ln]  # minus data-read progress
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
