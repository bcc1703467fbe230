"""A training-compute budget (--budget-tflops): the run stops where images x counted FLOPs per image reach it."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from clicheck import one_error_line
from reportfakes import make_run
from rich.console import Console

from bench.cli import main
from bench.commands.bench import write_grid_report
from bench.core.errors import UserError
from bench.grid.executors import ExecutorOptions
from bench.grid.plan import GridPlan
from bench.grid.run import run_cells
from bench.metrics.profile import training_flops_per_image
from bench.registry import get_model
from bench.report.build import build_report, checked_runs
from bench.report.columns import parse_metric_list

pytestmark = pytest.mark.usefixtures("one_thread")

BATCH = 8
BUDGET_TFLOPS = 0.04  # tens of images for the tiny32 models: a few batches, the last one partial
TINY = ["--preset", "tiny", "--batch", str(BATCH), "--device", "cpu", "--data", "fashion10k"]


def counted_flops(model: str) -> int:
    """Training FLOPs per real image as `ladabench profile` counts them for the tiny32 preset."""
    spec = get_model(model)
    return training_flops_per_image(spec, spec.preset("tiny", 32))


def only_run(out: Path) -> Path:
    """The one run folder under `out`."""
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def last_images_seen(run: Path) -> int:
    """Images seen at the run's last stats line."""
    return json.loads((run / "stats.jsonl").read_text().splitlines()[-1])["images_seen"]


@pytest.mark.parametrize("model", ["ladagan", "conv"])
def test_flops_budget_stops_at_the_first_image_count_that_reaches_it(tmp_path, model):
    flops = counted_flops(model)
    # The smallest N with N x F >= B, in exact arithmetic (B = 0.04e12 FLOPs).
    budget = Fraction(BUDGET_TFLOPS).limit_denominator(10**6) * 10**12
    expected = -(-budget.numerator // (budget.denominator * flops))
    assert expected % BATCH and expected * flops >= budget > (expected - 1) * flops  # a trimmed last batch
    out = tmp_path / "runs"
    argv = ["train", model, *TINY, "--budget-tflops", str(BUDGET_TFLOPS), "--minutes", "5", "--out", str(out)]
    assert main(argv) == 0  # --minutes: a lost stop rule fails the count below instead of hanging
    run = only_run(out)
    assert run.name == f"00000-{model}-fashion10k-tiny32-tflops0.04-seed0"
    options = json.loads((run / "options.json").read_text())
    assert options["budget_tflops"] == BUDGET_TFLOPS and options["total_kimg"] is None
    assert options["train_flops_per_image"] == flops
    assert last_images_seen(run) == expected


def test_the_two_models_get_different_image_counts_for_one_budget():
    ladagan, conv = counted_flops("ladagan"), counted_flops("conv")
    assert ladagan != conv  # otherwise the test above would not tell the count apart from a kimg budget


def test_a_resumed_flops_run_keeps_its_count_and_reaches_the_same_image(tmp_path):
    out = tmp_path / "runs"
    argv = ["train", "ladagan", *TINY, "--budget-tflops", str(BUDGET_TFLOPS), "--minutes", "5", "--out", str(out)]
    assert main([*argv, "--stop-kimg", "0.016"]) == 0
    run = only_run(out)
    assert last_images_seen(run) == 16
    assert main(["train", "--resume", str(run), "--device", "cpu"]) == 0
    flops = json.loads((run / "options.json").read_text())["train_flops_per_image"]
    assert last_images_seen(run) == -(-round(BUDGET_TFLOPS * 1e12) // flops)


@pytest.mark.parametrize(
    "budget, message",
    [
        ("-1", "--budget-tflops must be a positive number of training TFLOPs (got -1.0)"),
        ("0", "--budget-tflops must be a positive number of training TFLOPs (got 0.0)"),
        ("nan", "--budget-tflops must be a positive number of training TFLOPs (got nan)"),
        ("0.001", "--budget-tflops 0.001 is less than one batch (8 images x"),
    ],
    ids=["negative", "zero", "nan", "under-one-batch"],
)
def test_bad_budget_is_one_line_naming_the_option_and_writes_nothing(tmp_path, capsys, budget, message):
    out = tmp_path / "runs"
    assert main(["train", "ladagan", *TINY, "--budget-tflops", budget, "--out", str(out)]) == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_non_numeric_budget_names_the_option_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "ladagan", *TINY, "--budget-tflops", "lots", "--out", str(out)]) == 2
    assert "Invalid value for '--budget-tflops'" in one_error_line(capsys)
    assert not out.exists()


def test_a_kimg_and_a_flops_budget_together_are_refused(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "ladagan", *TINY, "--kimg", "1", "--budget-tflops", "1", "--out", str(out)]) == 2
    assert "--kimg and --budget-tflops are two budgets: pass one of them" in one_error_line(capsys)
    assert not out.exists()


def test_compare_refuses_to_mix_a_flops_budget_run_with_a_kimg_budget_run(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {4: 40.0}, kid=10.0)  # 4 kimg
    flops = {"total_kimg": None, "budget_tflops": 6.0, "train_flops_per_image": 1_500_000_000}  # 4,000 images
    make_run(root, 1, "conv", 0, {4: 60.0}, kid=12.0, options=flops)
    with pytest.raises(UserError, match=r"budget_tflops: '-' \(00000-ladagan.*\) vs '6.0' \(00001-conv"):
        checked_runs([root], parse_metric_list("fid,kid"), [])
    out = tmp_path / "cmp.md"
    assert main(["compare", str(root), "--metric", "fid,kid", "--out", str(out)]) == 2
    assert "budget_tflops" in one_error_line(capsys) and not out.exists()


def test_compare_accepts_flops_budget_runs_that_saw_different_image_counts(tmp_path):
    root = tmp_path / "runs"
    for index, (model, flops) in enumerate([("ladagan", 1_000_000_000), ("conv", 2_000_000_000)]):
        # 4 TFLOPs: 4,000 images for ladagan, 2,000 for conv; the fake stats reach 4,000 for both.
        options = {"total_kimg": None, "budget_tflops": 4.0, "train_flops_per_image": flops}
        make_run(root, index, model, 0, {4: 40.0}, kid=10.0, options=options)
    runs, _, _ = checked_runs([root], parse_metric_list("fid,kid"), [])
    assert sorted(runs["model"]) == ["conv", "ladagan"] and runs["complete"].all()
    text = build_report([root], parse_metric_list("fid,kid"), tmp_path / "r.md").markdown_path.read_text()
    assert "# ladabench comparison: fashion10k at 4 training TFLOPs" in text
    assert "| budget | **4 training TFLOPs per run** (`--budget-tflops`" in text


@pytest.mark.slow
def test_a_grid_with_a_flops_budget_gives_each_model_its_own_image_count(tmp_path):
    budget_tflops = 0.1
    plan = GridPlan(
        name="t",
        models=["ladagan", "conv"],
        data="fashion10k",
        total_kimg=None,
        budget_tflops=budget_tflops,
        seeds=[0],
        num_gen=16,
        report=tmp_path / "reports" / "t.md",
        features="random-conv",
        runs_root=tmp_path / "runs",
        profile=False,
        batch=16,
    )
    outcome = run_cells(plan, ExecutorOptions(kind="debug"), Console(file=open(os.devnull, "w")))  # noqa: SIM115
    assert outcome.complete
    for status in outcome.statuses:
        flops = counted_flops(status.cell.model)
        assert last_images_seen(Path(status.run)) == -(-round(budget_tflops * 1e12) // flops)
    report = write_grid_report(plan, outcome.statuses, outcome.dataset)
    assert "**0.1 training TFLOPs per run**" in report.markdown_path.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--budget-tflops", "-3"], "--budget-tflops must be a positive number of training TFLOPs (got -3.0)"),
        (["--budget-tflops", "0.001"], "--budget-tflops 0.001 is less than one batch (16 images x"),
        (["--snapshot-kimg", "0"], "--snapshot-kimg must be a positive number (got 0.0)"),
    ],
    ids=["negative", "under-one-batch", "zero-snapshot-interval"],
)
def test_bad_grid_budget_is_one_line_and_writes_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "grid"
    argv = ["bench", "budget", *extra, "--features", "random-conv", "--executor", "debug"]
    assert main([*argv, "--runs-dir", str(out / "runs"), "--out", str(out / "r.md")]) == 2
    assert message in one_error_line(capsys)
    assert not out.exists()
