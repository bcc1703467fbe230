"""Reports print `value [lo, hi]` and `compare --against OLD.csv` flags an injected regression."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
from reportfakes import make_run

from bench.cli import main
from bench.core.errors import UserError
from bench.report.build import build_report
from bench.report.columns import parse_metric_list
from bench.report.intervals import parse_cell
from bench.report.markdown import parse_results_table

KEYS = parse_metric_list("fid,kid")
SE = {"fid": 0.8, "kid": 0.3}  # each run's jackknife standard error


def _with_intervals(run_dir: Path) -> None:
    """Give every metric line of a fabricated run the interval fields `ladabench eval` writes."""
    for path in run_dir.glob("metric-*.jsonl"):
        lines = [json.loads(t) for t in path.read_text().splitlines()]
        for line in lines:
            se = SE[line["kind"]]
            line.update(ci95=[line["value"] - 1.96 * se, line["value"] + 1.96 * se], ci_se=se, ci_groups=25)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _grid(root: Path, fids: dict[tuple[str, int], float]) -> Path:
    """Runs of two models x seeds with the given final FIDs (KID = FID / 2), all with intervals."""
    for i, ((model, seed), fid) in enumerate(fids.items()):
        _with_intervals(make_run(root, i, model, seed, {4: fid}, fid / 2))
    return root


BASE = {("ladagan", 0): 40.0, ("ladagan", 1): 42.0, ("conv", 0): 60.0, ("conv", 1): 61.0}


def test_report_interval_combines_sample_and_seed_spread(tmp_path: Path) -> None:
    report = build_report([_grid(tmp_path / "runs", BASE)], KEYS, tmp_path / "r.md")
    row = report.table.set_index("model").loc["ladagan"]
    values = [40.0, 42.0]
    se = math.sqrt(statistics.variance(values) / 2 + 2 * SE["fid"] ** 2 / 4)
    assert row["fid_lo"] == pytest.approx(41.0 - 1.959964 * se) and row["fid_hi"] == pytest.approx(41.0 + 1.959964 * se)
    cells = {r["model"]: r for r in parse_results_table(report.markdown_path.read_text())}
    cell = parse_cell(cells["ladagan"]["FID"])
    assert cell["value"] == pytest.approx(41.0) and cell["std"] == pytest.approx(statistics.stdev(values), rel=5e-3)
    assert cell["lo"] == pytest.approx(row["fid_lo"], rel=1e-3) and cell["hi"] == pytest.approx(row["fid_hi"], rel=1e-3)
    assert "25 seeded groups" in report.markdown_path.read_text()


def test_against_flags_injected_regression_and_fails_when_asked(tmp_path: Path, capsys) -> None:
    old = build_report([_grid(tmp_path / "old", BASE)], KEYS, tmp_path / "old.md")
    worse = {**BASE, ("conv", 0): 70.0, ("conv", 1): 71.0}  # conv FID +10, far beyond the intervals
    new_runs = _grid(tmp_path / "new", worse)
    report = build_report([new_runs], KEYS, tmp_path / "new.md", against=old.csv_path)
    verdicts = {(c.model, c.metric): c.verdict for c in report.changes}
    assert verdicts == {
        ("conv", "fid"): "worse",
        ("conv", "kid"): "worse",
        ("ladagan", "fid"): "within interval",
        ("ladagan", "kid"): "within interval",
    }
    assert "Regression check against" in report.markdown_path.read_text()

    args = [
        "compare",
        str(new_runs),
        "--metric",
        "fid,kid",
        "--out",
        str(tmp_path / "cli.md"),
        "--against",
        str(old.csv_path),
    ]
    assert main(args) == 0  # flagged, but not asked to fail
    assert "worse" in capsys.readouterr().out
    assert main([*args, "--fail-on-regression"]) == 1
    assert "regression:" in capsys.readouterr().out
    # An improvement is marked but does not fail the gate.
    better = _grid(tmp_path / "better", {**BASE, ("ladagan", 0): 20.0, ("ladagan", 1): 21.0})
    assert (
        main(
            [
                "compare",
                str(better),
                "--metric",
                "fid",
                "--out",
                str(tmp_path / "b.md"),
                "--against",
                str(old.csv_path),
                "--fail-on-regression",
            ]
        )
        == 0
    )
    assert "better" in capsys.readouterr().out


def test_small_change_within_interval_passes_and_bad_inputs_refused(tmp_path: Path, capsys) -> None:
    old = build_report([_grid(tmp_path / "old", BASE)], KEYS, tmp_path / "old.md")
    nudged = _grid(tmp_path / "new", {k: v + 0.5 for k, v in BASE.items()})
    args = ["compare", str(nudged), "--metric", "fid,kid", "--out", str(tmp_path / "n.md")]
    assert main([*args, "--against", str(old.csv_path), "--fail-on-regression"]) == 0
    assert main([*args, "--fail-on-regression"]) == 2
    assert "--fail-on-regression needs --against" in capsys.readouterr().err
    assert main([*args, "--against", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    no_ci = tmp_path / "plain"
    make_run(no_ci, 0, "conv", 0, {4: 60.0}, 30.0)  # lines without intervals (written before this version)
    with pytest.raises(UserError, match="nothing to check"):
        build_report([no_ci], KEYS, tmp_path / "p.md", against=old.csv_path)
