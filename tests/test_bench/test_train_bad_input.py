"""Bad input, one row each: a clear message naming the input, a non-zero exit code, no traceback, nothing written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from threads import one_torch_thread

from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ["--preset", "tiny", "--batch", "8", "--device", "cpu"]


def _refused(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in this process; return (exit code, the error text on one line)."""
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err.replace("\n", "")


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "nosuchgan", *TINY], 2, "model 'nosuchgan' is unknown; known: ladagan"),
        (
            ["train", "ladagan", "--data", "celba64", *TINY],
            2,
            "dataset 'celba64' is unknown (did you mean 'celeba64'?); known: fashion10k",
        ),
        (
            ["train", "ladagan", "--preset", "huge", "--device", "cpu"],
            2,
            "preset 'huge' is unknown for model 'ladagan'; known: cifar10",
        ),
        (
            ["train", "ladagan", *TINY, "--metrics", "fidd500_train"],
            2,
            "metric kind 'fidd' in 'fidd500_train' is unknown; known: fid, kid",
        ),
        (
            ["train", "ladagan", *TINY, "--metrics", "fid16_train-random-conv"],
            2,
            "--metrics 'fid16_train-random-conv' names feature extractor 'random-conv', but training evaluates with "
            "the FID Inception; drop the suffix, or evaluate after training: `ladabench eval RUN --metrics "
            "fid16_train --features random-conv`",
        ),
        (["train", "ladagan", *TINY, "--kimg", "-1"], 2, "--kimg must be a positive number (got -1.0)"),
        (["train", "ladagan", *TINY, "--kimg", "0"], 2, "--kimg must be a positive number (got 0.0)"),
        (["train", "ladagan", *TINY, "--minutes", "0"], 2, "--minutes must be a positive number (got 0.0)"),
        (
            ["train", "ladagan", "--preset", "tiny", "--batch", "10001", "--device", "cpu"],
            2,
            "--batch 10001 is larger than dataset 'fashion10k' (10000 images); pass a smaller --batch",
        ),
        (["train", "ladagan", *TINY, "--keep-snapshots", "-1"], 2, "--keep-snapshots must be >= 0"),
        (["train", "ladagan", *TINY, "--r1-interval", "0"], 2, "--r1-interval must be a whole number >= 1"),
    ],
    ids=[
        "unknown-model",
        "unknown-dataset",
        "unknown-preset",
        "unknown-metric",
        "metric-of-other-features",
        "negative-kimg",
        "zero-kimg",
        "zero-minutes",
        "batch-over-dataset",
        "negative-keep",
        "zero-r1-interval",
    ],
)
def test_bad_training_options_are_refused_before_anything_is_written(tmp_path, capsys, argv, code, message):
    out = tmp_path / "runs"
    got_code, err = _refused([*argv, "--out", str(out)], capsys)
    assert got_code == code and message in err
    assert not out.exists()


def test_missing_data_root_names_where_it_looked_and_how_to_get_the_data(tmp_path, capsys):
    code, err = _refused(
        [
            "train",
            "ladagan",
            "--data",
            "celeba64",
            "--data-root",
            str(tmp_path / "nope"),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "runs"),
        ],
        capsys,
    )
    assert code == 3
    assert f"no images found (looked in {tmp_path / 'nope' / 'img_align_celeba'}" in err and "--data-root DIR" in err
    assert not (tmp_path / "runs").exists()


def test_unreadable_data_root_is_a_clear_error(tmp_path, capsys):
    root = tmp_path / "a-file-not-a-folder"  # unreadable as a folder, even for root (chmod cannot do that)
    root.write_text("x")
    code, err = _refused(
        [
            "train",
            "ladagan",
            "--data",
            "celeba64",
            "--data-root",
            str(root),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "runs"),
        ],
        capsys,
    )
    assert code == 3 and f"looked in {root / 'img_align_celeba'}" in err
    assert not (tmp_path / "runs").exists()


def test_unwritable_output_folder_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _refused(["train", "ladagan", *TINY, "--kimg", "0.008", "--out", str(blocker / "runs")], capsys)
    assert code == 2 and f"--out: {blocker} is not a folder; pass a path in a writable folder" in err
    assert blocker.read_text() == "x"


@pytest.fixture(scope="module")
def one_step_run(tmp_path_factory) -> Path:
    """A finished one-step run (8 images) with its snapshot."""
    out = tmp_path_factory.mktemp("one-step")
    with one_torch_thread():
        assert main(["train", "ladagan", *TINY, "--kimg", "0.008", "--out", str(out)]) == 0
    (run,) = list(out.iterdir())
    return run


def test_resume_with_a_changed_config_lists_each_difference(one_step_run, tmp_path, capsys):
    run = Path(shutil.copytree(one_step_run, tmp_path / one_step_run.name))
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    code, err = _refused(["train", "--resume", str(run), "--r1-gamma", "0.5", "--batch", "16"], capsys)
    assert code == 2
    assert "r1_gamma: 0.0001 -> 0.5" in err and "batch_size: 8 -> 16" in err and "add --force" in err
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before


def test_a_metric_on_a_run_without_snapshots_is_refused(one_step_run, tmp_path, capsys):
    run = Path(shutil.copytree(one_step_run, tmp_path / one_step_run.name))
    for snap in run.glob("snapshot-*.pt"):
        snap.unlink()
    code, err = _refused(["eval", str(run), "--metrics", "fid500_train", "--device", "cpu"], capsys)
    assert code == 2 and f"run {run} has no snapshot-*.pt yet" in err
    assert not list(run.glob("metric-*.jsonl"))


def test_a_compare_over_no_runs_is_refused(tmp_path, capsys):
    empty = tmp_path / "runs"
    empty.mkdir()
    report = tmp_path / "reports" / "compare.md"
    code, err = _refused(["compare", str(empty), "--out", str(report)], capsys)
    assert code == 2 and f"no training runs found under {empty}" in err
    assert not report.parent.exists()


@pytest.mark.slow
def test_the_console_script_exits_non_zero_without_a_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "train", "nosuchgan", "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "model 'nosuchgan' is unknown" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "runs").exists()
