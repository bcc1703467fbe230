"""Multi-process training: `ladabench train --procs 2` launches torchrun (gloo on CPU) with DDP, R1 included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from threads import one_torch_thread

from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.distributed import split_sizes
from bench.train.seeds import derived_seed, rank_seed
from bench.train.state import load_snapshot

REPO = Path(__file__).resolve().parents[2]
TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def _stats(run: Path) -> list[dict]:
    """stats.jsonl of a run, one dict per tick."""
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_process_run_counts_images_globally_writes_one_run_and_resumes_in_one_process(tmp_path, capsys):
    out = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "train",
            *TINY,
            "--kimg",
            "0.032",
            "--stop-kimg",
            "0.016",
            "--deterministic",
            "--procs",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = list(out.iterdir())
    assert len(runs) == 1  # only rank 0 created a run directory
    run = runs[0]
    options = json.loads((run / "options.json").read_text())
    assert options["world_size"] == 2 and options["batch_size"] == 8  # the global batch: 4 per rank
    stats = _stats(run)
    assert [s["images_seen"] for s in stats] == [8, 16]  # counted over both ranks
    assert all(s["r1"] > 0 for s in stats)  # R1's double backward ran under DDP
    log = (run / "log.txt").read_text()
    assert log.count("start: ") == 1 and log.count("tick 2:") == 1  # one writer
    assert "2 process(es)" in log and "weights identical on all 2 ranks at 16 images" in log
    (snap_path,) = RunDir(run).snapshots()
    snap = load_snapshot(snap_path)
    assert snap["images_seen"] == 16 and len(snap["rank_generators"]) == 2
    assert not (run / "train.lock").exists()

    with one_torch_thread():
        assert main(["train", "--resume", str(run)]) == 0  # the same run, now in one process
    assert [s["images_seen"] for s in _stats(run)] == [8, 16, 24, 32]
    assert "resumed from snapshot-000000.016.pt at 16 images on 1 process(es)" in (run / "log.txt").read_text()
    assert load_snapshot(RunDir(run).snapshots()[-1])["images_seen"] == 32
    assert json.loads((run / "options.json").read_text())["world_size"] == 1


def test_procs_relaunches_the_resolved_options_under_torchrun(tmp_path, monkeypatch):
    launched = {}

    def fake_run(command, check):
        """Record the command and the options file it names instead of starting torchrun."""
        launched["command"] = command
        launched["launch"] = json.loads(Path(command[-1]).read_text())
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert (
        main(
            ["train", *TINY, "--kimg", "0.5", "--deterministic", "--no-compile", "--procs", "2", "--out", str(tmp_path)]
        )
        == 0
    )
    command = launched["command"]
    assert command[:6] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m"]
    args = command[6:]
    assert args[0] == "bench.commands.torchrun" and "--procs" not in args  # the workers get options, not flags
    options = launched["launch"]["options"]
    for key, value in (
        ("model", "ladagan"),
        ("preset", "tiny32"),
        ("batch_size", 8),
        ("total_kimg", 0.5),
        ("device", "cpu"),
        ("out", str(tmp_path)),
        ("world_size", 2),
    ):
        assert options[key] == value
    assert options["deterministic"] is True and options["compile"] is False and launched["launch"]["resume"] is None
    assert not any(tmp_path.iterdir())  # the launcher itself writes nothing
    assert not Path(command[-1]).exists()  # nor leaves its options file behind


def test_global_batch_must_split_evenly_over_processes(monkeypatch, capsys):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("torchrun must not start on bad input"))
    assert main(["train", *TINY, "--procs", "3"]) == 2  # checked before torchrun is launched
    assert "--batch 8 is the global batch and must split evenly over 3 processes" in capsys.readouterr().err.replace(
        "\n", ""
    )
    monkeypatch.setenv("WORLD_SIZE", "3")  # inside torchrun: every rank checks too
    assert main(["train", *TINY, "--dry-run"]) == 2
    assert "must split evenly over 3 processes" in capsys.readouterr().err.replace("\n", "")


def test_rank_seeds_keep_rank_zero_on_the_single_process_stream():
    assert rank_seed(7, 1, 0) == derived_seed(7, 1)  # so one process under torchrun == no torchrun
    seeds = {rank_seed(7, stream, rank) for stream in (1, 2) for rank in range(4)}
    assert len(seeds) == 8  # every rank and stream draws independently
    assert rank_seed(7, 1, 1, 16) != rank_seed(7, 1, 1)  # fresh streams after a resume under another count
    assert split_sizes(8, 2) == [4, 4] and split_sizes(5, 2) == [3, 2] and sum(split_sizes(7, 3)) == 7


@pytest.mark.parametrize("world_size", [1, 2])
def test_rank_slices_cover_each_global_batch_exactly_once(world_size):
    from bench.train.distributed import Dist
    from bench.train.loop import rank_slice

    indices = torch.arange(10).numpy()
    parts = [rank_slice(indices, Dist(rank=r, world_size=world_size)) for r in range(world_size)]
    assert sorted(i for part in parts for i in part.tolist()) == list(range(10))


@pytest.mark.slow
def test_bcr_trains_under_ddp_with_one_forward_of_the_pair(tmp_path):
    # bCR calls D three times in the D step (reals, fakes, augmented copies) plus R1's double backward:
    # all inside one forward of the DDP-wrapped DiscriminatorPair, so DDP's reducer sees one forward per backward.
    out = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "train",
            *TINY,
            "--kimg",
            "0.016",
            "--bcr",
            "--augment",
            "color,translation,cutout",
            "--procs",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = list(out.iterdir())
    stats = _stats(run)
    assert [s["images_seen"] for s in stats] == [8, 16]
    assert all(s["cr"] > 0 and s["r1"] > 0 for s in stats)
    assert "weights identical on all 2 ranks at 16 images" in (run / "log.txt").read_text()
