"""`ladabench compare` and the report package on fabricated run directories (real file formats)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd
import pytest
from reportfakes import make_run

from bench.cli import main
from bench.core.errors import UserError
from bench.report.build import build_report
from bench.report.columns import parse_metric_list
from bench.report.markdown import parse_mean_std, parse_results_table

KEYS = parse_metric_list("fid,kid,macs,train-flops,params,imgs-per-sec,peak-mem,device-hours")
# (model, seed) -> (final FID, FID at kimg 2, KID, training img/s, peak memory MiB)
RUNS = {
    ("ladagan", 0): (40.0, 80.0, 20.0, 100.0, 1000),
    ("ladagan", 1): (44.0, 90.0, 26.0, 120.0, 1100),
    ("conv", 0): (60.0, 95.0, 30.0, 300.0, 500),
    ("conv", 1): (70.0, 99.0, 36.0, 330.0, 700),
}


def _profile_json(path: Path) -> Path:
    """A `ladabench profile --json` file for both models (counts and CPU timing)."""
    rows = [
        {
            "model": m,
            "preset": "tiny32",
            "resolution": 32,
            "params_g": pg,
            "params_d": pd_,
            "g_macs_per_image": macs,
            "train_flops_per_real_image": 3 * macs,
            "train_img_per_sec": ips,
            "train_peak_rss_bytes": 2**29,
            "train_peak_alloc_bytes": None,
            "device": "cpu",
            "device_name": "x86_64",
            "dtype": "float32",
            "batch": 8,
        }
        for m, pg, pd_, macs, ips in (
            ("ladagan", 1_419_945, 266_338, 90e6, 50.0),
            ("conv", 368_771, 215_585, 40e6, 150.0),
        )
    ]
    path.write_text(json.dumps({"schema": "ladabench.profile/1", "rows": rows}))
    return path


def _scaling_json(path: Path) -> Path:
    """A `ladabench profile --attention-scaling --json` file."""
    rows = [
        {
            "layer": layer,
            "tokens": t,
            "dim": 64,
            "heads": 2,
            "batch": 1,
            "device": "cpu",
            "fwd_bwd_ms_median": t * (t if layer == "dot" else 1) * 1e-3,
            "fwd_bwd_mem_increase_bytes": t * 4096,
            "macs_per_image": t * 64 * (t if layer == "dot" else 4),
        }
        for layer in ("lada", "dot", "grid")
        for t in (64, 256, 1024)
    ]
    path.write_text(json.dumps({"schema": "ladabench.attention-scaling/1", "rows": rows}))
    return path


@pytest.fixture()
def grid(tmp_path: Path) -> Path:
    """Two models x two seeds, every run complete at 4 kimg with FID at kimg 2 and 4."""
    root = tmp_path / "runs"
    for i, ((model, seed), (fid, fid_mid, kid, ips, mem)) in enumerate(RUNS.items()):
        make_run(root, i, model, seed, {2: fid_mid, 4: fid}, kid, img_per_sec=ips, peak_mem_bytes=mem * 2**20)
    return root


def _expected(model: str, index: int) -> tuple[float, float]:
    """Mean and sample std over the two seeds of column `index` of RUNS."""
    values = [v[index] for (m, _), v in RUNS.items() if m == model]
    return statistics.mean(values), statistics.stdev(values)


def test_means_and_stds_over_seeds(grid: Path, tmp_path: Path) -> None:
    report = build_report(
        [grid], KEYS, tmp_path / "reports" / "cmp.md", profile_paths=[_profile_json(tmp_path / "p.json")]
    )
    table = report.table.set_index("model")
    assert set(table.index) == {"ladagan", "conv"}
    for model in ("ladagan", "conv"):
        for column, index in (("fid", 0), ("kid", 2), ("train_img_per_sec", 3), ("peak_mem_mib", 4)):
            mean, std = _expected(model, index)
            assert table.loc[model, f"{column}_mean"] == pytest.approx(mean), column
            assert table.loc[model, f"{column}_std"] == pytest.approx(std), column
        assert table.loc[model, "seeds"] == "0,1"
    # Final at budget: the kimg-2 FID must not leak into the final value; hours = last tick's wall clock.
    assert table.loc["ladagan", "train_hours_mean"] == pytest.approx(40.0 / 3600)
    assert table.loc["conv", "g_macs_per_image_mean"] == pytest.approx(40e6)
    csv = pd.read_csv(report.csv_path).set_index("model")
    assert csv.loc["conv", "fid_mean"] == pytest.approx(65.0)


def test_markdown_table_parses_back(grid: Path, tmp_path: Path) -> None:
    report = build_report([grid], KEYS, tmp_path / "cmp.md", profile_paths=[_profile_json(tmp_path / "p.json")])
    text = report.markdown_path.read_text()
    rows = {r["model"]: r for r in parse_results_table(text)}
    assert set(rows) == {"ladagan", "conv"}
    for model in rows:
        for header, index in (("FID", 0), ("KID x10^3", 2), ("train img/s", 3), ("peak mem (MiB)", 4)):
            mean, std = parse_mean_std(rows[model][header])
            want_mean, want_std = _expected(model, index)
            assert mean == pytest.approx(want_mean, rel=5e-4)
            assert std == pytest.approx(want_std, rel=5e-3)
    mean, std = parse_mean_std(rows["ladagan"]["G params (M)"])
    assert mean == pytest.approx(1.419945, rel=5e-4) and std is None  # a cost has no spread over seeds
    # The header states the protocol; the footer holds the regenerate command.
    assert "4 kimg" in text and "fid500_train" in text and "7ff4a85c3a6378f0" in text
    assert "## Regenerate" in text


@pytest.mark.slow
def test_every_plot_written_and_linked(grid: Path, tmp_path: Path) -> None:
    profile = [_profile_json(tmp_path / "p.json"), _scaling_json(tmp_path / "s.json")]
    report = build_report([grid], KEYS, tmp_path / "out" / "cmp.md", profile_paths=profile)
    names = sorted(p.name for p in report.plot_paths)
    assert names == sorted(f"cmp-{n}.png" for n in ("fid-kimg", "fid-hours", "fid-macs", "speed", "attention"))
    text = report.markdown_path.read_text()
    for path in report.plot_paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
        assert f"]({path.name})" in text
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize(
    ("options", "metric_overrides", "fields"),
    [
        ({"batch_size": 64}, {}, ["batch_size", "32", "64"]),
        ({"total_kimg": 8}, {}, ["total_kimg"]),
        ({}, {"weights_sha256": "00" * 32}, ["weights_sha256"]),
        ({}, {"num_gen": 1000}, ["metric", "num_gen", "fid500_train", "fid1000_train"]),
        # The grid's runs predate these options: no bCR, G_ema started as a copy of G.
        ({"ema_start": "fresh"}, {}, ["ema_start", "'copy'", "'fresh'"]),
        ({"bcr": True}, {}, ["bcr"]),
        ({"cr_weight": 0.5}, {}, ["cr_weight"]),
        ({"ema_halflife_kimg": 10.0, "ema_rampup": 0.05}, {}, ["ema_halflife_kimg", "ema_rampup", "10.0", "0.05"]),
        ({"ema_decay": 0.99}, {}, ["ema_decay", "0.999", "0.99"]),
        ({"r1_interval": 4}, {}, ["r1_interval", "'1'", "'4'"]),  # the grid's runs predate it: R1 every step
    ],
)
def test_mixed_protocols_refused_with_fields_named(
    grid: Path, tmp_path: Path, options, metric_overrides, fields
) -> None:
    odd = make_run(
        grid,
        9,
        "conv",
        2,
        {8 if options.get("total_kimg") else 4: 50.0},
        30.0,
        total_kimg=options.get("total_kimg", 4),
        options=options,
        metric_overrides=metric_overrides,
    )
    with pytest.raises(UserError) as caught:
        build_report([grid], parse_metric_list("fid,kid"), tmp_path / "cmp.md")
    message = str(caught.value)
    for field in fields:
        assert field in message
    assert odd.name in message
    assert not (tmp_path / "cmp.md").exists()


def test_protocol_block_states_bcr_and_the_ema_start(tmp_path: Path) -> None:
    for seed in (0, 1):
        make_run(
            tmp_path / "runs",
            seed,
            "ladagan",
            seed,
            {4: 10.0 + seed},
            5.0,
            options={
                "bcr": True,
                "cr_weight": 0.1,
                "ema_start": "fresh",
                "augment": "color,translation,cutout",
                "r1_interval": 4,
            },
        )
    text = build_report([tmp_path / "runs"], KEYS, tmp_path / "cmp.md").markdown_path.read_text()
    assert "augmentation `color,translation,cutout` with bCR (cr_weight 0.1;" in text
    assert "**lazy R1**: every 4 D steps with weight 4 x r1_gamma" in text
    assert "| G_ema | start `fresh`, " in text


def test_incomplete_run_left_out_with_note(grid: Path, tmp_path: Path) -> None:
    run = make_run(grid, 7, "conv", 5, {4: 1.0}, 1.0)
    lines = (run / "stats.jsonl").read_text().splitlines()
    (run / "stats.jsonl").write_text("\n".join(lines[:2]) + "\n")  # stopped at 2 of 4 kimg
    report = build_report([grid], parse_metric_list("fid"), tmp_path / "cmp.md")
    assert report.table.set_index("model").loc["conv", "fid_mean"] == pytest.approx(65.0)
    assert run.name in report.markdown_path.read_text()


def test_compare_cli_writes_report_and_refuses_no_runs(grid: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep" / "x.md"
    code = main(["compare", str(grid), "--metric", "fid,kid,imgs-per-sec", "--out", str(out)])
    assert code == 0
    assert out.is_file() and out.with_suffix(".csv").is_file()
    assert "ladabench compare" in out.read_text()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(empty), "--out", str(tmp_path / "y.md")]) == 2
    assert "no training runs found" in capsys.readouterr().err
    assert main(["compare", str(grid), "--metric", "fid,bogus"]) == 2


def test_report_states_the_ema_schedule(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    for i, model in enumerate(("ladagan", "conv")):
        make_run(root, i, model, 0, {4: 50.0 + i}, 30.0, options={"ema_halflife_kimg": 10.0, "ema_rampup": 0.05})
    report = build_report([root], parse_metric_list("fid"), tmp_path / "cmp.md")
    assert "| G_ema | start `copy`, half-life 10 kimg, ramp-up 0.05 x images seen |" in report.markdown_path.read_text()
    fixed = tmp_path / "fixed"
    make_run(fixed, 0, "ladagan", 0, {4: 50.0}, 30.0)
    assert (
        "| G_ema | start `copy`, 0.999 per step |"
        in build_report([fixed], parse_metric_list("fid"), tmp_path / "f.md").markdown_path.read_text()
    )


def test_matmul_peak_column_comes_from_a_roofline_profile(grid: Path, tmp_path: Path) -> None:
    path = _profile_json(tmp_path / "p.json")
    payload = json.loads(path.read_text())
    for row, fraction in zip(payload["rows"], (0.031, 0.125), strict=True):
        row.update(train_fraction_of_matmul_peak=fraction, roofline_dtype="fp32", matmul_peak_flops_per_sec=4e11)
    path.write_text(json.dumps(payload))
    report = build_report([grid], parse_metric_list("fid,matmul-peak"), tmp_path / "cmp.md", profile_paths=[path])
    text = report.markdown_path.read_text()
    assert "profiled step / matmul peak (%)" in text
    assert "| ladagan | tiny32 | 0,1 |" in text and "| 3.1 |" in text and "| 12.5 |" in text
    assert "measured matmul peak fp32 0.4 TFLOP/s" in text
