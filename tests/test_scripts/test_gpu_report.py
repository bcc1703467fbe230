"""`nox -s gpu` (scripts/gpu_report.py): its plan covers every model and mode, its report's ratios are right.

The full dry run (`nox -s gpu -- --dry-run`, about a minute on 2 CPU cores) is a separate CI step, not
part of this suite; these tests check the plan, the report text and the refusal without a GPU.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from bench.registry import all_models

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_report.py"


@pytest.fixture(scope="module")
def gpu_report():
    """The script loaded as a module."""
    spec = importlib.util.spec_from_file_location("gpu_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_covers_every_model_in_all_four_modes_headline_first(gpu_report) -> None:
    items = gpu_report.plan(dry_run=False)
    modes = {(False, False), (True, False), (True, True), (False, True)}
    for model in all_models():
        assert {(bf16, comp) for m, preset, px, bf16, comp in items if m == model and px == 64} == modes
    # The GPU targets come first: LadaGAN at its three configs, fp32 eager and bf16 + compile.
    assert items[:6] == [
        ("ladagan", name, px, bf16, comp)
        for name, px in (("cifar10", 32), ("celeba64", 64), ("ffhq128", 128))
        for bf16, comp in ((False, False), (True, True))
    ]
    keys = [(m, p or gpu_report._default_preset(m, px), bf16, comp) for m, p, px, bf16, comp in items]
    assert len(keys) == len(set(keys))  # nothing profiled twice


def _row(model: str, dtype: str, compiled: bool, img_per_sec: float) -> dict:
    """A profile row as profile_model writes it, with roofline fields."""
    return {
        "model": model,
        "preset": "celeba64",
        "batch": 128,
        "dtype": dtype,
        "compile_g": compiled,
        "train_img_per_sec": img_per_sec,
        "train_img_per_sec_min": img_per_sec,
        "train_img_per_sec_max": img_per_sec,
        "gen_img_per_sec": 1000.0,
        "train_peak_alloc_bytes": 2**30,
        "train_peak_reserved_bytes": 2 * 2**30,
        "train_flops_per_sec": 1e12,
        "train_fraction_of_matmul_peak": 0.25,
        "roofline_dtype": "fp32",
        "profile_wall_s": 3.0,
    }


def test_report_states_speedups_from_the_rows(gpu_report) -> None:
    rows = [
        _row("ladagan", "float32", False, 100.0),
        _row("ladagan", "bfloat16 autocast", False, 250.0),
        _row("ladagan", "bfloat16 autocast", True, 400.0),
    ]
    report = {
        "dry_run": False,
        "total_s": 420.0,
        "profiles": rows,
        "skipped": [{"model": "conv", "preset": "celeba64", "bf16": False, "compile": True, "reason": "time budget"}],
        "environment": {
            "device_name": "NVIDIA H200",
            "date_utc": "2026-11-30 14:00",
            "torch": "2.14.1",
            "cuda": "13.0",
            "cudnn": 91000,
        },
        "tests": {"command": "python -m pytest -m gpu", "summary": "5 passed", "returncode": 0, "seconds": 30.0},
        "roofline": {
            "matmul_size": 8192,
            "matmul_repeats": 5,
            "matmul_fp32_flops_per_sec": 5e13,
            "matmul_bf16_flops_per_sec": 7e14,
            "tf32_matmul": False,
        },
        "training": {"command": "ladabench train ladagan", "returncode": 0, "seconds": 90.0},
    }
    text = gpu_report.render(report)
    assert "# ladabench GPU check: NVIDIA H200" in text and "Dry run" not in text
    # bf16 / fp32 = 250/100, bf16+compile / fp32 = 400/100, compile / eager (bf16) = 400/250
    assert "| ladagan | celeba64 | 2.50x | 4.00x | 1.60x |" in text
    assert "| 1,024 | 2,048 | 1 | 25.0 (fp32) |" in text
    assert "bf16 700.00 TFLOP/s" in text and "conv celeba64 bf16=False compile=True (time budget)" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_a_gpu_the_script_says_to_use_dry_run(gpu_report, capsys, tmp_path) -> None:
    assert gpu_report.main(["--out", str(tmp_path)]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written
