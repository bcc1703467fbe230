"""`ladabench profile --roofline`: the measured matmul rate and a step's fraction of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.metrics import roofline
from bench.metrics.roofline import matmul_flops_per_sec, measure_peaks, roofline_fields


def test_matmul_rate_is_two_n_cubed_over_the_fastest_repeat(monkeypatch) -> None:
    monkeypatch.setattr(roofline, "time_calls", lambda fn, device, repeats, warmup: [0.5, 0.25, 1.0])
    assert matmul_flops_per_sec("cpu", torch.float32, 100) == 2 * 100**3 / 0.25


def test_measured_matmul_rates_are_plausible() -> None:
    peaks = measure_peaks("cpu", size=128, repeats=2)
    # A 128^2 product on any CPU core runs between 10 MFLOP/s and 10 TFLOP/s.
    for dtype in ("fp32", "bf16"):
        assert 1e7 < peaks[f"matmul_{dtype}_flops_per_sec"] < 1e13
    assert peaks["matmul_size"] == 128 and peaks["threads"] == torch.get_num_threads()


@pytest.mark.parametrize(("dtype", "expected_peak"), [("float32", 4e11), ("bfloat16 autocast", 8e11)])
def test_fraction_divides_counted_flops_per_second_by_the_dtypes_peak(dtype: str, expected_peak: float) -> None:
    peaks = {"matmul_fp32_flops_per_sec": 4e11, "matmul_bf16_flops_per_sec": 8e11}
    row = {"train_img_per_sec": 50.0, "train_flops_per_real_image": 2e9, "dtype": dtype}
    fields = roofline_fields(row, peaks)
    assert fields["train_flops_per_sec"] == 1e11  # 50 img/s x 2 GFLOP per image
    assert fields["train_fraction_of_matmul_peak"] == pytest.approx(1e11 / expected_peak)


def test_rows_without_timing_get_no_fraction() -> None:
    assert roofline_fields({"train_flops_per_real_image": 2e9}, {"matmul_fp32_flops_per_sec": 1.0}) == {}


@pytest.mark.slow
def test_profile_roofline_cli_carries_peaks_into_the_json(tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "p.json"
    code = main(
        [
            "profile",
            "conv",
            "--preset",
            "tiny32",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--batch",
            "2",
            "--device",
            "cpu",
            "--roofline",
            "--json",
            str(out_json),
        ]
    )
    assert code == 0
    assert "matmul peak on cpu" in capsys.readouterr().out
    payload = json.loads(out_json.read_text())
    (row,) = payload["rows"]
    peak = payload["roofline"]["matmul_fp32_flops_per_sec"]
    achieved = row["train_img_per_sec"] * row["train_flops_per_real_image"]
    assert row["train_fraction_of_matmul_peak"] == pytest.approx(achieved / peak)
    assert main(["profile", "conv", "--no-speed", "--roofline"]) == 2
    assert "--roofline" in capsys.readouterr().err
