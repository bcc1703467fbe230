"""Fault injection: 20 SIGKILLs at seeded random moments of one tiny CPU run, each followed by --resume.

The run ends bitwise equal (G_ema, and every loss in stats.jsonl) to the same run trained without a
break, and every snapshot left on disk passes its checksum. The kills land anywhere: in start-up, in
the resume's checks, mid-iteration, mid-snapshot-write, mid-stats-append. Each one is timed by the
run's own progress (so no session can run away with the budget on a fast machine), then a seeded
random delay; every fifth kill comes at a random time after the process starts instead.
"""

from __future__ import annotations

import math
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from clicheck import TINY, start_cli, wait_until
from threads import one_torch_thread

from bench.cli import main
from bench.core.rundir import LOCK_FILE, RunDir, snapshot_images
from bench.train.state import load_snapshot

KILLS = 20
BATCH = 8  # TINY's batch: one iteration shows D this many real images
ARGS = [*TINY, "--kimg", "0.4", "--seed", "5", "--deterministic", "--snapshot-kimg", "0.016", "--keep-snapshots", "2"]


def _progress(out: Path) -> int:
    """Images the run under `out` has recorded: its newest stats line or newest snapshot (0 before either)."""
    runs = RunDir.children(out)
    if not runs:
        return 0
    snapshots = runs[0].snapshots()
    return max(runs[0].images_seen(), snapshot_images(snapshots[-1]) if snapshots else 0)


def _wait_for_a_random_moment(proc, out: Path, rng: random.Random, startup: bool) -> None:
    """Wait for one more iteration than the run had (a start-up kill: for a random 0.2-2.5 s at most), plus a little."""
    target = max(_progress(out), 2 * BATCH) + (2 if startup else 1) * BATCH
    deadline = time.monotonic() + (rng.uniform(0.2, 2.5) if startup else math.inf)
    wait_until(lambda: time.monotonic() > deadline or _progress(out) >= target, proc)
    if not startup:
        time.sleep(rng.uniform(0.0, 0.1))  # somewhere inside the next iteration, its snapshot or its stats line


def _second_writer_is_refused(proc, run: Path, capsys) -> None:
    """While the killed-to-be process is frozen holding the lock, another `--resume` is refused naming it."""
    os.kill(proc.pid, signal.SIGSTOP)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"is being trained by pid {proc.pid}" in err and "only one process may write a run" in err


@pytest.mark.slow
def test_twenty_sigkills_then_resume_end_bitwise_equal_with_every_snapshot_whole(tmp_path, capsys):
    with one_torch_thread():
        assert main(["train", *ARGS, "--out", str(tmp_path / "full")]) == 0
    (full,) = RunDir.children(tmp_path / "full")

    rng, out, run = random.Random(20261130), tmp_path / "killed", None
    for kill in range(KILLS):
        argv = ["train", *ARGS, "--out", str(out)] if run is None else ["train", "--resume", str(run)]
        proc = start_cli(argv, tmp_path / f"session{kill:02d}")
        _wait_for_a_random_moment(proc, out, rng, startup=kill % 5 == 4)
        if run is None:
            run = RunDir.children(out)[0].path
            _second_writer_is_refused(proc, run, capsys)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL, f"session {kill} ended on its own before the kill"
    assert _progress(out) < 400  # the budget was never reached by a killed session

    with one_torch_thread():
        assert main(["train", "--resume", str(run)]) == 0
    log = (run / "log.txt").read_text()
    assert "took over a stale lock from pid" in log and not (run / LOCK_FILE).exists()
    assert not RunDir(run).partial_writes() and not list(run.glob("*.corrupt"))
    for path in RunDir(run).snapshots():
        load_snapshot(path)  # raises unless the file is whole and matches its checksum
    a, b = load_snapshot(full.snapshots()[-1]), load_snapshot(RunDir(run).snapshots()[-1])
    assert a["images_seen"] == b["images_seen"] == 400
    for name, tensor in a["G_ema"].items():
        assert torch.equal(tensor, b["G_ema"][name]), f"G_ema.{name} differs after {KILLS} SIGKILLs + resumes"
    losses = lambda r: [(s.images_seen, s.loss_d, s.loss_g) for s in RunDir(r).read_stats()]  # noqa: E731
    assert losses(full.path) == losses(run)
