"""The benchmark grid end to end: train (as `ladabench train`), evaluate, profile, report; then reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.commands.bench import write_grid_report
from bench.grid.executors import ExecutorOptions
from bench.grid.plan import GridPlan
from bench.grid.run import run_cells
from bench.report.markdown import parse_mean_std, parse_results_table


def run_grid(plan: GridPlan, console: Console):
    """Run every cell in this process (the debug executor), then write the report as `ladabench bench` does."""
    outcome = run_cells(plan, ExecutorOptions(kind="debug"), console)
    assert outcome.complete
    return write_grid_report(plan, outcome.statuses, outcome.dataset)


@pytest.mark.slow
def test_grid_trains_evaluates_profiles_reports_and_reuses_finished_runs(tmp_path: Path) -> None:
    # One batch of 32 for the fastest model (the comparison logic is tested on fabricated runs), FID/KID from
    # 16 images with the fast test feature net (marked non-comparable).
    plan = GridPlan(
        name="t",
        models=["conv"],
        data="fashion10k",
        total_kimg=0.032,
        seeds=[0],
        num_gen=16,
        report=tmp_path / "reports" / "t.md",
        features="random-conv",
        runs_root=tmp_path / "runs",
        profile_repeats=1,
        scaling_tokens=(16, 64),
        command="ladabench bench quick --kimg 0.032",
        train_overrides={"ema_halflife_kimg": 10.0, "ema_rampup": 0.05},
    )
    console = Console(file=open(tmp_path / "console.txt", "w"), width=120)  # noqa: SIM115 - closed by the GC
    report = run_grid(plan, console)
    rows = {r["model"]: r for r in parse_results_table(report.markdown_path.read_text())}
    assert set(rows) == {"conv"}
    for model, row in rows.items():
        fid, _ = parse_mean_std(row["FID"])
        run_fid = report.table.set_index("model").loc[model, "fid_mean"]
        assert fid is not None and fid > 0 and abs(fid - run_fid) <= 5e-4 * run_fid
        assert parse_mean_std(row["train img/s"])[0] > 0
        assert parse_mean_std(row["G MACs/img (M)"])[0] > 0
    text = report.markdown_path.read_text()
    assert "fid16_train-random-conv" in text and "not comparable" in text
    assert "ladabench bench quick --kimg 0.032" in text
    assert ", half-life 10 kimg, ramp-up 0.05 x images seen |" in text
    assert "precision fp32 (`--amp off`) |" in text  # the protocol's precision, in words and as the option
    assert "pipeline check" not in text  # the half-life schedule leaves no initial weights in G_ema
    (run_dir,) = (tmp_path / "runs").glob("0*")
    init = [json.loads(x) for x in (run_dir / "metric-fid16_train-random-conv.jsonl").read_text().splitlines()]
    assert [(x["snapshot"], x["kimg"]) for x in init] == [("init", 0), ("snapshot-000000.032.pt", 0.032)]
    ratio = init[1]["value"] / init[0]["value"]
    assert (
        f"| conv | fid16_train-random-conv | 1 | {init[0]['value']:.4g} | {init[1]['value']:.4g} | {ratio:.2f} |"
        in text
    )
    names = {p.name for p in report.plot_paths}
    assert {"t-fid-kimg.png", "t-fid-hours.png", "t-fid-macs.png", "t-speed.png", "t-attention.png"} == names
    profile = json.loads((tmp_path / "reports" / "t-profile.json").read_text())
    assert [r["model"] for r in profile["rows"]] == ["conv"]
    # Running the same grid again reuses the finished, evaluated runs: no new run, no new metric line.
    runs_before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    metric_files = sorted((tmp_path / "runs").glob("*/metric-*.jsonl"))
    lines_before = [len(p.read_text().splitlines()) for p in metric_files]
    run_grid(GridPlan(**{**plan.__dict__, "profile": False}), console)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == runs_before
    assert [len(p.read_text().splitlines()) for p in metric_files] == lines_before == [2] * 2  # init + final
