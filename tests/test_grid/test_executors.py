"""The same tiny grid in this process, on two local workers and as a SLURM job array gives every run the same result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gridcheck import assert_bitwise_equal, final_state, grid_args, metric_values, runs_by_cell, wait_for

from bench.cli import main
from bench.core.files import read_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The tiny grid run cell after cell in this process (the debug executor) at one torch thread."""
    root = tmp_path_factory.mktemp("debug")
    saved = torch.get_num_threads()
    try:
        assert main(grid_args(root, "--executor", "debug", "--threads", "1")) == 0
    finally:
        torch.set_num_threads(saved)
    return root


def assert_same_runs(root: Path, reference: Path) -> dict[str, dict]:
    """Every cell's weights, optimizer states and metric values equal the reference's; return env.json's 'where'."""
    runs, expected = runs_by_cell(root / "runs"), runs_by_cell(reference / "runs")
    assert runs.keys() == expected.keys() == {"ladagan-seed0", "conv-seed0"}
    for cell, run in runs.items():
        assert_bitwise_equal(final_state(run), final_state(expected[cell]), cell)
        assert metric_values(run) == metric_values(expected[cell]) != {}
    return {cell: run.read_env()["where"] for cell, run in runs.items()}


def test_two_local_workers_give_each_run_the_result_of_one_at_the_same_thread_count(reference, tmp_path):
    assert main(grid_args(tmp_path, "--executor", "local", "--workers", "2", "--threads", "1")) == 0
    where = assert_same_runs(tmp_path, reference)
    assert {(w["executor"], w["workers"], w["threads"]) for w in where.values()} == {("local", 2, 1)}
    assert "| executed | local, 2 workers x 1 thread(s) " in (tmp_path / "rep" / "q.md").read_text()
    reference_where = runs_by_cell(reference / "runs")["conv-seed0"].read_env()["where"]
    assert (reference_where["executor"], reference_where["threads"]) == ("debug", 1)


def test_slurm_wait_runs_the_grid_as_one_job_array_and_writes_the_report(slurm, reference, tmp_path, capsys):
    assert main(grid_args(tmp_path, "--executor", "slurm", "--threads", "1", "--wait")) == 0
    out = capsys.readouterr().out
    assert "2 of 2 cells to run (slurm)" in out and "wrote " in out
    assert (tmp_path / "rep" / "q.md").is_file()
    where = assert_same_runs(tmp_path, reference)
    arrays = {w["slurm_array_job_id"] for w in where.values()}
    assert len(arrays) == 1 and None not in arrays  # one job array for the grid
    assert {w["slurm_array_task_id"] for w in where.values()} == {"0", "1"}
    manifest = read_json(tmp_path / "runs" / "grids" / "quick.json")
    assert manifest["executor"] == "slurm" and set(manifest["job_ids"]) == {"ladagan-seed0", "conv-seed0"}
    assert list((tmp_path / "runs" / "submitit").glob("*_log.out"))  # submitit's logs inside the runs folder


def test_slurm_returns_after_submission_and_status_then_report_only_finish_it(slurm, tmp_path, capsys):
    args = grid_args(tmp_path, "--executor", "slurm", "--threads", "1", models="conv")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "submitted SLURM job array" in out and f"runs folder: {tmp_path / 'runs'}" in out
    assert " --report-only" in out and not (tmp_path / "rep").exists()
    assert main(["bench", "status", str(tmp_path / "runs")]) == 0
    assert "conv-seed0" in capsys.readouterr().out

    def evaluated() -> bool:
        main(["bench", "status", str(tmp_path / "runs")])
        return "1 evaluated" in capsys.readouterr().out

    wait_for(evaluated, 120, "the SLURM cell to be evaluated")
    assert main([*args, "--report-only"]) == 0
    assert (tmp_path / "rep" / "q.md").is_file()
