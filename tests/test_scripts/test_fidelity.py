"""scripts/authors_trainer.py, fidelity_runs.py and fidelity_report.py: inputs, bookkeeping and the report's numbers."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _script(name: str):
    """A script loaded as a module."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _authors_trainer(*args: str) -> subprocess.CompletedProcess:
    """Run the authors' trainer script (it fails on bad input before importing TensorFlow)."""
    cmd = [sys.executable, str(SCRIPTS / "authors_trainer.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_authors_trainer_refuses_a_folder_without_their_files(tmp_path):
    (tmp_path / "model.py").write_text("")
    done = _authors_trainer("--authors-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--kimg", "1")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "trainer.py, diffaug.py, utils.py" in done.stderr
    assert not (tmp_path / "out").exists()


def test_authors_trainer_refuses_images_of_the_wrong_shape(tmp_path):
    for name in ("model.py", "trainer.py", "diffaug.py", "utils.py"):
        (tmp_path / name).write_text("")
    np.save(tmp_path / "imgs.npy", np.zeros((4, 28, 28), np.uint8))
    done = _authors_trainer(
        *("--authors-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--kimg", "1"),
        *("--images", str(tmp_path / "imgs.npy")),
    )
    assert done.returncode == 2 and "(4, 28, 28)" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_authors_trainer_writes_the_tiny32_architecture_in_their_config_keys():
    from ladagan.presets import PRESETS
    from ladagan.tf_config import architecture_from_config, config_differences

    trainer = _script("authors_trainer")
    generator, discriminator = architecture_from_config(trainer.ARCHITECTURE)
    preset = PRESETS["tiny32"]
    assert config_differences(preset.generator, generator, "G") == []
    assert config_differences(preset.discriminator, discriminator, "D") == []


def test_results_bookkeeping_skips_what_is_done(tmp_path):
    runs = _script("fidelity_runs")
    path = tmp_path / "results.jsonl"
    rows = [
        {"trainer": "tf", "seed": 1, "kimg": 8.0, "generator": "G", "metrics": {}},
        {"trainer": "tf", "seed": 1, "kimg": 8.0, "generator": "G_ema", "metrics": {"fid250_train": {}}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert runs.done_keys(path) == {("tf", 1, 8.0, "G", False), ("tf", 1, 8.0, "G_ema", True)}
    runs.append_line(
        tmp_path / "speed.jsonl", {"trainer": "tf", "repeat": 0, "img_per_sec": 1.0}, ("trainer", "repeat")
    )
    runs.append_line(
        tmp_path / "speed.jsonl", {"trainer": "tf", "repeat": 0, "img_per_sec": 2.0}, ("trainer", "repeat")
    )
    assert len((tmp_path / "speed.jsonl").read_text().splitlines()) == 1
    assert runs.kimg_list("4, 8,") == {4.0, 8.0}


def test_a_started_run_is_resumed_not_restarted(tmp_path):
    runs = _script("fidelity_runs")
    fresh = runs.torch_command(tmp_path / "torch-seed3", 3, 8.0, 2.0)
    assert fresh[:3] == ["ladabench", "train", "ladagan"] and fresh[fresh.index("--seed") + 1] == "3"
    assert fresh[fresh.index("--lr-g") + 1] == fresh[fresh.index("--lr-d") + 1] == "0.001"
    started = tmp_path / "torch-seed3" / "00000-ladagan-fashion10k-tiny32-kimg8-seed3"
    started.mkdir(parents=True)
    assert runs.torch_command(tmp_path / "torch-seed3", 3, 8.0, 2.0) == ["ladabench", "train", "--resume", str(started)]


def test_welch_interval_matches_a_hand_computation():
    report = _script("fidelity_report")
    a, b = np.array([10.0, 12.0, 14.0]), np.array([20.0, 21.0, 22.0])
    diff, lo, hi = report.welch(a, b)
    # var/n: 4/3 and 1/3; se = sqrt(5/3); Welch dof = (5/3)^2 / ((4/3)^2/2 + (1/3)^2/2) = 2.941...
    se = math.sqrt(5 / 3)
    dof = (5 / 3) ** 2 / ((4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)
    from scipy import stats

    assert diff == pytest.approx(9.0)
    assert hi - diff == pytest.approx(stats.t.ppf(0.975, dof) * se)
    assert lo == pytest.approx(2 * diff - hi)


def _result(trainer: str, seed: int, fid: float, generator: str = "G", kimg: float = 8.0) -> dict:
    """One results.jsonl line with a FID and flat edge profiles."""
    metric = {"kind": "fid", "value": fid, "ci95": [fid - 1, fid + 1]}
    rows = [100.0] + [10.0] * 31
    return {
        "trainer": trainer,
        "seed": seed,
        "kimg": kimg,
        "generator": generator,
        "metrics": {"fid250_train": metric},
        "row_means": rows,
        "col_means": [10.0] * 32,
    }


def test_quality_table_says_whether_the_trainers_agree(tmp_path):
    report = _script("fidelity_report")
    lines = [_result("torch", s, f) for s, f in enumerate((100.0, 110.0, 120.0))]
    lines += [_result("tf", s, f) for s, f in enumerate((105.0, 115.0, 125.0))]
    lines += [_result("tf", s, f, kimg=2.0) for s, f in enumerate((300.0, 310.0, 320.0))]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    frame = report.load_results(tmp_path)
    assert frame.loc[0, "row0"] == 100.0 and frame.loc[0, "row1"] == 10.0 and frame.loc[0, "interior"] == 10.0
    table = "\n".join(report.quality_table(frame))
    assert "+5.0 [" in table and "yes (interval holds 0)" in table
    far = pd.concat([frame[frame.trainer == "torch"], frame[frame.trainer == "tf"].assign(fid=lambda f: f.fid + 100)])
    assert "**no**" in "\n".join(report.quality_table(far))


def test_a_snapshot_measured_twice_keeps_its_last_line(tmp_path):
    report = _script("fidelity_report")
    first, second = _result("tf", 0, 200.0), _result("tf", 0, 150.0)
    (tmp_path / "results.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    frame = report.load_results(tmp_path)
    assert len(frame) == 1 and frame.fid.iloc[0] == 150.0


def _artefact_row(trainer: str, seed: int, row0: float, row0_replicate: float) -> dict:
    """One artefact.json row: raw G's edges and the same with a replicate-padded RGB conv."""
    base = {"row0": row0, "row_last": 5.0, "col0": 5.0, "col_last": 5.0}
    fixed = {**base, "row0": row0_replicate}
    return {"trainer": trainer, "seed": seed, "G_edges": base, "G_edges_rgb_replicate_pad": fixed}


def test_artefact_verdict_counts_bright_edges_per_trainer(tmp_path):
    report = _script("fidelity_report")
    path = tmp_path / "artefact.json"
    rows = [_artefact_row("torch", 0, 140.0, 10.0), _artefact_row("torch", 1, 12.0, 10.0)]
    path.write_text(json.dumps({"rows": [*rows, _artefact_row("tf", 0, 9.0, 8.0)]}))
    (line,) = report.artefact_verdict(path)
    assert "ours 1 of 2, the authors' trainer 0 of 1" in line and "Fisher's exact test p = 1.00" in line
    path.write_text(json.dumps({"rows": [*rows, _artefact_row("tf", 0, 99.0, 8.0)]}))
    (line,) = report.artefact_verdict(path)
    assert "the authors' trainer 1 of 1" in line and "LadaGAN's behaviour" in line
