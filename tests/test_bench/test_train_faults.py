"""Faults (SIGKILL + resume: test_train_kill_resume.py): damaged and hostile snapshots, one writer per run, keep-last-K.

Runs use the tiny LadaGAN preset at batch 8 on the embedded dataset, on CPU with one thread.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.core.rundir import LOCK_FILE as LOCK_NAME
from bench.core.rundir import RunDir
from bench.train.lock import RunLock, RunLockedError
from bench.train.snapshots import load_generator, prune
from bench.train.state import SnapshotError, UnsafeSnapshotError, load_snapshot, save_snapshot

pytestmark = pytest.mark.usefixtures(
    "one_thread"
)  # one torch thread, as the subprocesses: same kernels, bitwise-comparable runs


def test_truncated_newest_snapshot_is_detected_set_aside_and_the_previous_one_used(run_copy, capsys):
    good = run_copy / "snapshot-000000.016.pt"
    newer = run_copy / "snapshot-000001.pt"  # a later snapshot cut short (e.g. a disk filled up)
    newer.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert main(["train", "--resume", str(run_copy)]) == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert "snapshot-000001.pt is truncated or unreadable" in out and "set aside as snapshot-000001.pt.corrupt" in out
    assert not newer.exists() and (run_copy / "snapshot-000001.pt.corrupt").exists()
    log = (run_copy / "log.txt").read_text()
    assert "warning: " in log and "resumed from snapshot-000000.016.pt at 16 images" in log
    assert (
        load_snapshot(RunDir(run_copy).snapshots()[-1])["images_seen"] == 32
        and load_snapshot(good)["images_seen"] == 16
    )


def test_a_damaged_snapshot_named_explicitly_is_refused_naming_the_good_one(run_copy, capsys):
    good = run_copy / "snapshot-000000.016.pt"
    newer = run_copy / "snapshot-000001.pt"
    newer.write_bytes(good.read_bytes()[:1000])
    before = sorted(p.name for p in run_copy.iterdir())
    assert main(["train", "--resume", str(newer)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "snapshot-000001.pt is truncated or unreadable" in err and f"resume from {good} instead" in err
    assert sorted(p.name for p in run_copy.iterdir()) == before  # nothing written, lock released


def test_flipped_bytes_inside_a_snapshot_fail_its_checksum(run_copy):
    path = run_copy / "snapshot-000000.016.pt"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # inside the tensor data: torch.load alone does not notice
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["images_seen"] == 16  # still parses...
    with pytest.raises(SnapshotError, match="is corrupted: its contents no longer match the checksum"):
        load_snapshot(path)  # ...but the checksum catches it


class _Payload:
    """An object whose unpickling runs a shell command (what a hostile snapshot would carry)."""

    def __init__(self, marker: Path):
        """Remember where the command would leave its trace."""
        self.marker = marker

    def __reduce__(self):
        """Unpickling calls os.system('touch MARKER')."""
        return (os.system, (f"touch {self.marker}",))


def test_a_snapshot_carrying_code_is_refused_and_the_code_never_runs(run_copy, tmp_path, capsys):
    proof = tmp_path / "pickle-runs-code"
    pickle.loads(pickle.dumps(_Payload(proof)))  # the payload is real: plain unpickling runs it
    assert proof.exists()

    marker = tmp_path / "pwned"
    snap = torch.load(run_copy / "snapshot-000000.016.pt", weights_only=True)
    snap["options"] = _Payload(marker)
    hostile = run_copy / "snapshot-000001.pt"
    torch.save(snap, hostile)
    with pytest.raises(UnsafeSnapshotError, match="contains pickled Python objects"):
        load_snapshot(hostile)
    with pytest.raises(UnsafeSnapshotError):
        load_generator(run_copy, hostile)  # the path `ladabench eval` takes
    assert main(["train", "--resume", str(run_copy)]) == 2  # newest snapshot: refused, never skipped silently
    err = capsys.readouterr().err.replace("\n", "")
    assert "snapshot-000001.pt was refused" in err and "could run code" in err
    assert not marker.exists()
    assert hostile.exists()  # kept as evidence, not renamed into the resume rotation


def test_run_lock_refuses_a_second_holder_and_takes_over_a_stale_one(tmp_path):
    lines: list[str] = []
    with RunLock(RunDir(tmp_path), log=lines.append):
        owner = json.loads((tmp_path / LOCK_NAME).read_text())
        assert owner["pid"] == os.getpid() and owner["hostname"] and owner["started_utc"]
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()} on host"):
            RunLock(RunDir(tmp_path)).acquire()
    assert not (tmp_path / LOCK_NAME).exists() and lines == []

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited: its lock file is stale
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead_pid, "hostname": "h", "started_utc": "t"}))
    with RunLock(RunDir(tmp_path), log=lines.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert lines == [f"took over a stale lock from pid {dead_pid} on host h since t (no longer running)"]

    with pytest.raises(ValueError), RunLock(RunDir(tmp_path)):  # released on errors too
        raise ValueError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_keep_snapshots_removes_the_oldest_and_never_the_newest(tmp_path):
    for kimg in (0, 1, 2, 3, 4):
        save_snapshot(tmp_path / f"snapshot-{kimg:06d}.pt", {"images_seen": kimg * 1000})
    removed = prune(RunDir(tmp_path), keep=3, newest=tmp_path / "snapshot-000004.pt")
    assert [p.name for p in removed] == ["snapshot-000000.pt", "snapshot-000001.pt"]
    assert [p.name for p in RunDir(tmp_path).snapshots()] == [
        "snapshot-000002.pt",
        "snapshot-000003.pt",
        "snapshot-000004.pt",
    ]
    # Resumed from an older snapshot, the one just written sorts first by name: it still stays.
    removed = prune(RunDir(tmp_path), keep=1, newest=tmp_path / "snapshot-000002.pt")
    assert [p.name for p in RunDir(tmp_path).snapshots()] == ["snapshot-000002.pt"]
    assert prune(RunDir(tmp_path), keep=0, newest=tmp_path / "snapshot-000002.pt") == []  # 0 keeps all


def test_metric_and_stats_lines_are_pushed_to_disk_whole(tmp_path, monkeypatch):
    from bench.core.records import MetricLine, StatsLine
    from bench.metrics.evaluate import append_results

    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        """os.fsync, noting what file content was on disk when it was called."""
        synced.append(Path(f"/proc/self/fd/{fd}").resolve().read_text())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    append_results(tmp_path, [MetricLine("fid500_train", "fid", 1.5), MetricLine("fid500_train", "fid", 2.5)])
    tick = StatsLine(tick=1, step=1, images_seen=8, kimg=0.008, loss_d=0.5)
    RunDir(tmp_path).append_stats(tick)
    lines = (tmp_path / "metric-fid500_train.jsonl").read_text().splitlines()
    assert [json.loads(line)["value"] for line in lines] == [1.5, 2.5]
    # Each line was complete and synced before the call returned (a later kill cannot take it back).
    assert synced == [lines[0] + "\n", lines[0] + "\n" + lines[1] + "\n", json.dumps(tick.to_json()) + "\n"]
