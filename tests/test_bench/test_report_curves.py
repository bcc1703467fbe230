"""Learning curves in reports: every evaluated point per run, against kimg and against cumulative training FLOPs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from reportfakes import make_run, metric_line
from rich.console import Console

from bench.commands.bench import write_grid_report
from bench.grid.executors import ExecutorOptions
from bench.grid.plan import GridPlan
from bench.grid.run import run_cells
from bench.report.build import build_report
from bench.report.columns import parse_metric_list
from bench.report.curves import MIN_CURVE_POINTS, gap_table, points_per_run

KEYS = parse_metric_list("fid,kid")
FLOPS = {"ladagan": 1.0e9, "conv": 1.5e9}  # training FLOPs per real image in the profile file


def _profile(path: Path) -> Path:
    """A profile file with each model's training FLOPs per real image."""
    rows = [
        {"model": m, "preset": "tiny32", "resolution": 32, "train_flops_per_real_image": f, "g_macs_per_image": 1e6}
        for m, f in FLOPS.items()
    ]
    path.write_text(json.dumps({"schema": "ladabench.profile/1", "rows": rows}))
    return path


def _add_lines(run: Path, kind: str, by_kimg: dict[int, float]) -> None:
    """Metric lines of `kind` at these kimg (0: G before its first step, as `ladabench bench` writes it)."""
    model = run.name.split("-")[1]
    with open(run / f"metric-{kind}500_train.jsonl", "a", encoding="utf-8") as fh:
        for kimg, value in by_kimg.items():
            where = {"snapshot": "init"} if kimg == 0 else {}
            fh.write(json.dumps(metric_line(kind, value, kimg, run.name, model, **where)) + "\n")


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    """Two models x two seeds, FID and KID at initialisation and at kimg 1, 2, 3, 4 (the budget)."""
    root = tmp_path / "runs"
    for i, (model, seed) in enumerate([("ladagan", 0), ("ladagan", 1), ("conv", 0), ("conv", 1)]):
        fid = {k: 100.0 - 10 * k - seed - (5 if model == "conv" else 0) for k in (1, 2, 3, 4)}
        run = make_run(root, i, model, seed, fid, kid=10.0)  # KID at the budget
        _add_lines(run, "fid", {0: 300.0 + seed})
        _add_lines(run, "kid", {0: 90.0, 1: 40.0, 2: 30.0, 3: 20.0})
    return root


def test_curve_data_has_every_evaluated_point_of_every_run(runs: Path, tmp_path: Path) -> None:
    report = build_report([runs], KEYS, tmp_path / "out" / "r.md", profile_paths=[_profile(tmp_path / "p.json")])
    curves = pd.read_csv(tmp_path / "out" / "r-curves.csv")
    fid = curves[curves["metric"] == "fid500_train"]
    assert points_per_run(fid) == {name: 5 for name in fid["run"].unique()} and fid["run"].nunique() == 4
    assert MIN_CURVE_POINTS == 5  # the promise: initialisation, three snapshots, the budget
    row = fid[(fid["model"] == "conv") & (fid["seed"] == 1) & (fid["kimg"] == 3)].iloc[0]
    assert row["value"] == pytest.approx(100 - 30 - 1 - 5)
    assert row["train_tflops"] == pytest.approx(3 * 1000 * FLOPS["conv"] / 1e12)
    assert fid[fid["snapshot"] == "init"]["kimg"].eq(0).all()
    text = report.markdown_path.read_text()
    assert "## Learning curves" in text and "](r-curves.png)" in text and "](r-curves.csv)" in text
    assert "| learning curves | initialisation, 1, 2, 3, 4 kimg: 5 evaluated points per run |" in text
    png = tmp_path / "out" / "r-curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png in report.figure_paths
    assert not any("fewer than 5 evaluated points" in n for n in report.notes)


def test_runs_with_too_few_points_are_named_in_a_note(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {2: 80.0, 4: 40.0}, kid=10.0)
    report = build_report([root], KEYS, tmp_path / "r.md")
    (note,) = [n for n in report.notes if "fewer than 5 evaluated points" in n]
    assert "`00000-ladagan-fashion10k-tiny32-kimg4-seed0` (1)" in note  # KID: at the budget only


def test_a_flops_budget_run_plots_against_its_own_recorded_count(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    flops_options = {"total_kimg": None, "budget_tflops": 8.0, "train_flops_per_image": 2 * 10**9}  # 4,000 images
    make_run(root, 0, "ladagan", 0, {2: 80.0, 4: 40.0}, kid=10.0, options=flops_options)
    build_report([root], KEYS, tmp_path / "r.md", profile_paths=[_profile(tmp_path / "p.json")])
    curves = pd.read_csv(tmp_path / "r-curves.csv")
    # 2 kimg x 2e9 FLOPs (the run's count, not the profile's 1e9) = 4 TFLOPs.
    assert curves[curves["kimg"] == 2]["train_tflops"].tolist() == [pytest.approx(4.0)]


def test_gap_by_budget_marks_the_points_where_the_gap_is_beyond_seed_noise(runs: Path, tmp_path: Path) -> None:
    report = build_report([runs], KEYS, tmp_path / "r.md", profile_paths=[_profile(tmp_path / "p.json")])
    gaps = gap_table(pd.read_csv(tmp_path / "r-curves.csv"))
    fid = gaps[gaps["metric"] == "fid500_train"].set_index("point")
    # conv is 5 below ladagan at every trained point, seeds 1 apart (std 0.707): band 1.96 x 1 x 0.707 = 1.39.
    assert list(fid.index) == [0, 1, 2, 3, 4] and (fid.loc[[1, 2, 3, 4], "gap"] == -5).all()
    assert fid.loc[1, "band"] == pytest.approx(1.959964 * 0.5**0.5)
    assert fid.loc[[1, 2, 3, 4], "beyond_noise"].all() and not fid.loc[0, "beyond_noise"]  # equal at init
    text = report.markdown_path.read_text()
    assert (
        "## Gap by budget" in text and "- fid500_train, conv vs ladagan: beyond seed noise at 1, 2, 3, 4 kimg" in text
    )
    assert "| fid500_train | conv | +0 | **-5** | **-5** | **-5** | **-5** |" in text
    saved = pd.read_csv(tmp_path / "r-gaps.csv")
    assert set(saved["axis"]) == {"kimg", "train_tflops"}


def test_gap_at_equal_training_compute_interpolates_the_other_models_curve(runs: Path, tmp_path: Path) -> None:
    build_report([runs], KEYS, tmp_path / "r.md", profile_paths=[_profile(tmp_path / "p.json")])
    gaps = gap_table(pd.read_csv(tmp_path / "r-curves.csv"), "train_tflops")
    fid = gaps[gaps["metric"] == "fid500_train"].set_index("point")
    # ladagan (1 GFLOP/image) is at 100 - 10k - seed after k kimg, conv (1.5 GFLOPs) at 95 - 10k - seed: at T
    # TFLOPs ladagan has seen T kimg and conv T / 1.5 kimg, so the gap is 95 - 10T/1.5 - (100 - 10T).
    for tflops in (2.0, 3.0, 4.0):
        assert fid.loc[tflops, "gap"] == pytest.approx(95 - 10 * tflops / 1.5 - (100 - 10 * tflops))
    assert fid.loc[0, "gap"] == pytest.approx(0)


@pytest.mark.slow
def test_a_grid_with_a_snapshot_interval_evaluates_every_snapshot_and_reports_the_curves(tmp_path: Path) -> None:
    # conv (the fastest model) to 64 images with a snapshot every 16: initialisation + 4 snapshots = 5 points.
    plan = GridPlan(
        name="t",
        models=["conv"],
        data="fashion10k",
        total_kimg=0.064,
        seeds=[0, 1],
        num_gen=16,
        report=tmp_path / "reports" / "t.md",
        features="random-conv",
        runs_root=tmp_path / "runs",
        profile=False,
        batch=16,
        snapshot_kimg=0.016,
    )
    outcome = run_cells(plan, ExecutorOptions(kind="debug"), Console(file=open(os.devnull, "w")))  # noqa: SIM115
    assert outcome.complete
    report = write_grid_report(plan, outcome.statuses, outcome.dataset)
    curves = pd.read_csv(tmp_path / "reports" / "t-curves.csv")
    assert set(points_per_run(curves).values()) == {5} and curves["run"].nunique() == 2
    assert sorted(curves["kimg"].unique()) == [0, 0.016, 0.032, 0.048, 0.064]
    text = report.markdown_path.read_text()
    assert "](t-curves.png)" in text and "![at the budget](t-samples.png)" in text
