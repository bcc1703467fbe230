"""A SLURM cell stopped mid-training (submitit's requeue signal, `scontrol requeue`) resumes and ends bitwise equal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from gridcheck import assert_bitwise_equal, final_state, runs_by_cell, wait_for
from rich.console import Console

from bench.grid.executors import ExecutorOptions
from bench.grid.plan import GridPlan
from bench.grid.run import run_cells
from bench.grid.status import cell_status

pytestmark = pytest.mark.slow


def plan(root: Path) -> GridPlan:
    """One conv cell of 20 steps, a stats line per step, deterministic kernels."""
    return GridPlan(
        name="t",
        models=["conv"],
        data="fashion10k",
        total_kimg=0.32,
        seeds=[0],
        num_gen=16,
        report=root / "rep" / "t.md",
        features="random-conv",
        runs_root=root / "runs",
        profile=False,
        train_overrides={"deterministic": True, "tick_kimg": 0.016},
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The cell trained in this process without a stop, at one torch thread."""
    root = tmp_path_factory.mktemp("uninterrupted")
    saved = torch.get_num_threads()
    try:
        outcome = run_cells(plan(root), ExecutorOptions(kind="debug", threads=1), Console(quiet=True))
    finally:
        torch.set_num_threads(saved)
    assert outcome.complete
    return root


@pytest.mark.parametrize(
    "stop",
    [["scancel", "--signal=USR2"], ["scontrol", "requeue"]],
    ids=["submitit-requeue-signal", "scontrol-requeue"],
)
def test_a_requeued_cell_resumes_from_its_snapshot_and_ends_bitwise_equal(slurm, uninterrupted, tmp_path, stop):
    grid = plan(tmp_path)
    outcome = run_cells(grid, ExecutorOptions(kind="slurm", threads=1), Console(quiet=True))
    assert outcome.submitted_only
    (job_id,) = outcome.job_ids.values()
    stats = lambda: list((tmp_path / "runs").glob("*/stats.jsonl"))  # noqa: E731
    wait_for(lambda: any(len(p.read_text().splitlines()) >= 3 for p in stats()), 120, "three ticks")
    subprocess.run([*stop, job_id.split("_")[0]], check=True)
    cell = outcome.statuses[0].cell
    wait_for(lambda: cell_status(cell).state == "evaluated", 180, "the requeued cell to finish")

    run = runs_by_cell(tmp_path / "runs")["conv-seed0"]
    log = (run.path / "log.txt").read_text()
    signal_name = "SIGUSR2" if stop[0] == "scancel" else "SIGTERM"
    assert f"stopped by {signal_name} at " in log
    assert ("requeued through submitit" if stop[0] == "scancel" else "a requeue resumes it") in log
    assert "resumed from snapshot-" in log
    stopped_at = int(log.split(f"stopped by {signal_name} at ")[1].split()[0])
    assert 48 <= stopped_at < 320  # stopped in the middle, not at the budget
    expected = runs_by_cell(uninterrupted / "runs")["conv-seed0"]
    assert run.images_seen() == expected.images_seen() == 320
    assert_bitwise_equal(final_state(run), final_state(expected), "final snapshot")
