"""A failing cell ends only itself; bad executor input is one line before anything is written or submitted."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys

import pytest
import torch
from gridcheck import grid_args, runs_by_cell, wait_for
from rich.console import Console

from bench.cli import main
from bench.commands.bench import grid_plan, option_defaults
from bench.core.files import read_json
from bench.data import load_dataset
from bench.grid.plan import plan_cells
from bench.grid.protocol import PROTOCOLS
from bench.train.lock import RunLock
from bench.train.session import train


def error_lines(text: str) -> list[str]:
    """The lines of an output that start with 'error:'."""
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_a_failing_cell_is_listed_the_others_finish_and_a_rerun_runs_only_it(tmp_path, capsys):
    # A stray process still holds the lock of conv's unfinished run: that cell fails, ladagan's does not.
    given = {**option_defaults(PROTOCOLS["quick"]), "models": "conv", "kimg": 0.032, "num_gen": 16}
    given.update(features="random-conv", runs_dir=tmp_path / "runs", out=tmp_path / "rep" / "q.md")
    (cell,) = plan_cells(grid_plan(PROTOCOLS["quick"], given, "cpu"), load_dataset("fashion10k"))
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train(dataclasses.replace(cell.train_options(), stop_kimg=0.016), console=Console(quiet=True))
    finally:
        torch.set_num_threads(saved)
    args = grid_args(tmp_path, "--executor", "local", "--workers", "2", "--threads", "1")
    with RunLock(run):
        assert main(args) == 1
        out, err = capsys.readouterr()
        rows = {
            line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in out.splitlines()
            if line.startswith("│ ") and "-seed0 " in line
        }
        assert rows == {"ladagan-seed0": "evaluated", "conv-seed0": "failed"}
        words = " ".join(out.replace("│", " ").split())
        assert "is being trained by pid" in words and "logs/conv-seed0.log" in words.replace(" ", "")
        assert error_lines(err) == [] and err.strip().splitlines()[-1].startswith("1 of 2 cells failed (table above")
        assert main(["bench", "status", str(tmp_path / "runs")]) == 0
        status = capsys.readouterr().out
        assert "1 evaluated, 1 failed" in status and "is being trained" in " ".join(status.replace("│", " ").split())
    assert not (tmp_path / "rep" / "q.md").exists()
    ladagan_log = (runs_by_cell(tmp_path / "runs")["ladagan-seed0"].path / "log.txt").read_text()

    assert main(args) == 0  # the cause removed: only the failed cell runs
    assert "1 of 2 cells to run" in capsys.readouterr().out
    runs = runs_by_cell(tmp_path / "runs")
    assert (runs["ladagan-seed0"].path / "log.txt").read_text() == ladagan_log
    assert runs["conv-seed0"].path == run.path and run.images_seen() == 32
    assert (tmp_path / "rep" / "q.md").is_file()


@pytest.mark.slow
def test_two_grids_started_at_once_on_one_runs_folder_train_each_cell_once(tmp_path):
    common = ["--executor", "debug", "--threads", "1"]  # each grid trains in its own process
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.cli", *grid_args(tmp_path, *common, "--out", str(out), models="conv")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        for out in (tmp_path / "r1.md", tmp_path / "r2.md")
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = runs_by_cell(tmp_path / "runs")
    assert sorted(runs) == ["conv-seed0"]
    assert (
        len(list((tmp_path / "runs").glob("0*"))) == 1
    )  # the cell trained once: the second grid waited, then reused it
    for run in runs.values():
        assert (run.path / "log.txt").read_text().count("start: ") == 1
        assert len(run.metric_lines()) == 4  # KID and FID, at initialisation and at the budget: evaluated once
    assert (tmp_path / "r1.md").is_file() and (tmp_path / "r2.md").is_file()


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (["--executor", "cloud"], "error: --executor 'cloud' is unknown; pass one of local, slurm, debug"),
        (["--workers", "0"], "error: --workers 0 must be at least 1"),
        (
            ["--executor", "slurm", "--sbatch", "qos"],
            "error: --sbatch 'qos' is not KEY=VALUE; e.g. --sbatch qos=high --sbatch account=proj",
        ),
    ],
)
def test_bad_executor_input_is_one_line_and_writes_nothing(tmp_path, capsys, extra, line):
    assert main(grid_args(tmp_path, *extra)) == 2
    assert error_lines(capsys.readouterr().err) == [line]
    assert list(tmp_path.iterdir()) == []


def test_slurm_without_sbatch_on_the_path_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(grid_args(tmp_path, "--executor", "slurm")) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("error: --executor slurm: no `sbatch` on the PATH;") and "local_slurm.sh start" in line
    assert list(tmp_path.iterdir()) == []


def test_a_partition_slurm_does_not_know_is_one_line_before_submission(slurm, tmp_path, capsys):
    assert main(grid_args(tmp_path, "--executor", "slurm", "--partition", "gpu-huge")) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line == "error: --partition 'gpu-huge' is not a SLURM partition here (sinfo lists: debug); pass one of them"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_killed_worker_is_a_failed_cell_and_the_rerun_resumes_its_run(tmp_path, capsys):
    args = grid_args(tmp_path, "--executor", "local", "--workers", "1", "--threads", "1", models="conv")
    args[args.index("0.032")] = "0.16"  # ten steps, a snapshot every two
    args += ["--snapshot-kimg", "0.032"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    record = tmp_path / "runs" / "cells" / "conv-seed0.json"
    wait_for(lambda: list((tmp_path / "runs").glob("0*/snapshot-*.pt")), 120, "a first snapshot")
    os.kill(read_json(record)["pid"], signal.SIGKILL)  # the worker dies without a word (OOM killer, node loss)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1
    assert read_json(record)["state"] == "failed" and "ended without finishing it" in read_json(record)["error"]
    assert "1 of 1 cells failed" in " ".join(out.split())

    assert main(args) == 0  # the rerun resumes the run from its last snapshot
    (run,) = runs_by_cell(tmp_path / "runs").values()
    assert "resumed from snapshot-" in (run.path / "log.txt").read_text() and run.images_seen() == 160
