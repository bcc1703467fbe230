"""--tracker: TensorBoard and W&B mirror stats.jsonl and metric lines; a tracker that cannot start never stops a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.core.records import MetricLine, StatsLine
from bench.train.trackers import TENSORBOARD_DIR, WANDB_DIR, previous_wandb_id, stats_scalars

REPO = Path(__file__).resolve().parents[1]
TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--snapshot-kimg", "0.016"]
TINY += ["--device", "cpu", "--deterministic"]


@pytest.fixture
def one_thread():
    """Train with one torch thread (2 shared cores), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def jsonl(path: Path) -> list[dict]:
    """The JSON lines of a file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def only_run(out: Path) -> Path:
    """The single run folder under `out`."""
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def events(run: Path):
    """The run's TensorBoard events, read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run / TENSORBOARD_DIR), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def by_step(accumulator, tag: str) -> dict[int, float]:
    """Step -> value of one scalar tag."""
    return {e.step: e.value for e in accumulator.Scalars(tag)}


@pytest.mark.slow
def test_tensorboard_events_equal_stats_and_metric_lines(tmp_path, one_thread, capsys):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    out = tmp_path / "runs"
    assert main(["train", *TINY, "--kimg", "0.032", "--out", str(out), "--tracker", "tensorboard"]) == 0
    run = only_run(out)
    assert json.loads((run / "options.json").read_text())["trackers"] == ["tensorboard"]
    stats = jsonl(run / "stats.jsonl")
    assert len(stats) == 4

    tb = events(run)
    points = [(round(line["kimg"] * 1000), line) for line in stats]  # step = real images shown
    # The headline scalars against the stats.jsonl fields themselves (TensorBoard stores float32).
    for tag, key, scale in (
        ("Loss/D/loss", "loss_d", 1.0),
        ("Loss/G/loss", "loss_g", 1.0),
        ("Loss/r1_penalty", "r1", 1.0),
        ("Resources/peak_mem_gb", "peak_mem_bytes", 1 / 2**30),
    ):
        assert by_step(tb, tag) == {s: pytest.approx(line[key] * scale, rel=1e-6) for s, line in points}
    assert by_step(tb, "Timing/sec_per_kimg") == {
        s: pytest.approx(1000 / line["img_per_sec"], rel=1e-6) for s, line in points
    }
    # Every scalar of every line is there, and nothing else.
    expected = {}
    for step, line in points:
        for tag, value in stats_scalars(StatsLine.from_json(line)).items():
            expected.setdefault(tag, {})[step] = pytest.approx(value, rel=1e-6)
    assert set(tb.Tags()["scalars"]) == set(expected)
    for tag, values in expected.items():
        assert by_step(tb, tag) == values, tag
    # Sample grids: at the start and at each snapshot.
    assert [e.step for e in tb.Images("Samples/G_ema")] == [0, 16, 32]

    # `eval` sends its metric lines to the run's trackers as Metrics/<name>, at the snapshot's images.
    capsys.readouterr()
    args = ["--metrics", "fid,kid", "--num-gen", "16", "--features", "random-conv", "--sample-seeds", "0"]
    assert main(["eval", str(run), *args, "--device", "cpu", "--ci-groups", "0"]) == 0
    tb = events(run)
    for name in ("fid16_train-random-conv", "kid16_train-random-conv"):
        (line,) = jsonl(run / f"metric-{name}.jsonl")
        assert by_step(tb, f"Metrics/{name}") == {32: pytest.approx(line["value"], rel=1e-6)}


def cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`ladabench ARGS` in a fresh interpreter (W&B keeps process-wide state)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, cwd=cwd, env=environment
    )


@pytest.mark.slow
def test_wandb_offline_writes_inside_the_run_and_a_resume_continues_the_same_run(tmp_path):
    pytest.importorskip("wandb", reason="needs the wandb extra: pip install -e '.[wandb]'")
    out = tmp_path / "runs"
    offline = {"WANDB_MODE": "offline", "HOME": str(tmp_path), "WANDB_API_KEY": ""}
    first = cli(
        ["train", *TINY, "--kimg", "0.032", "--stop-kimg", "0.016", "--out", str(out), "--tracker", "wandb"],
        tmp_path,
        **offline,
    )
    assert first.returncode == 0, first.stderr
    assert "warning" not in first.stderr
    run = only_run(out)
    run_id = previous_wandb_id(run)
    assert run_id is not None
    (first_folder,) = (run / WANDB_DIR).glob("offline-run-*")
    assert list(tmp_path.glob("wandb")) == []  # nothing outside the run folder

    second = cli(["train", "--resume", str(run)], tmp_path, **offline)  # the tracker choice is kept on resume
    assert second.returncode == 0, second.stderr
    folders = sorted((run / WANDB_DIR).glob("offline-run-*"))
    assert len(folders) == 2 and all(f.name.endswith(f"-{run_id}") for f in folders)
    # Each session's history holds the training scalars (W&B's offline log is binary; the keys are in it).
    for folder in folders:
        (log,) = folder.glob("run-*.wandb")
        content = log.read_bytes()
        assert b"Loss/D/loss" in content and b"Timing/sec_per_kimg" in content
        assert run_id.encode() in content
    assert jsonl(run / "stats.jsonl")[-1]["kimg"] == pytest.approx(0.032)


def test_a_missing_tracker_package_is_one_warning_line_and_the_run_finishes(tmp_path, one_thread, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError, as when it is not installed
    out = tmp_path / "runs"
    assert main(["train", *TINY, "--kimg", "0.016", "--out", str(out), "--tracker", "wandb"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert "tracker wandb not started" in warnings[0] and "pip install 'ladabench[wandb]'" in warnings[0]
    run = only_run(out)
    assert jsonl(run / "stats.jsonl")[-1]["kimg"] == pytest.approx(0.016)
    assert list(run.glob("snapshot-*.pt")) and not (run / WANDB_DIR).exists()


def test_an_unknown_tracker_is_one_line_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", *TINY, "--kimg", "0.016", "--out", str(out), "--tracker", "mlflow"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--tracker 'mlflow' is unknown; use tensorboard or wandb" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_trackers_are_off_by_default(tmp_path, capsys):
    assert main(["train", *TINY, "--kimg", "0.016", "--dry-run"]) == 0
    assert '"trackers": []' in capsys.readouterr().out


@dataclass(frozen=True)
class Options:
    """The two things the tracker hooks read of TrainOptions."""

    trackers: tuple[str, ...]

    def to_json(self) -> dict:
        return {"trackers": self.trackers}


class Recorder:
    """A stand-in tracker that records what it is sent."""

    name = "tensorboard"
    calls: list = []

    def __init__(self, run_path, options):
        Recorder.calls.append(("open", Path(run_path).name, options["trackers"]))

    def scalars(self, values, kimg):
        Recorder.calls.append(("scalars", kimg, values))

    def image(self, tag, pixels, kimg):
        Recorder.calls.append(("image", kimg, tag, pixels.shape))

    def close(self):
        Recorder.calls.append(("close",))


def test_training_hooks_reach_the_trackers_after_the_callers_hooks(tmp_path, monkeypatch):
    from PIL import Image

    from bench.train import trackers
    from bench.train.loop import TrainHooks

    monkeypatch.setitem(trackers._FACTORIES, "tensorboard", Recorder)
    Recorder.calls = []
    seen = []
    hooks = trackers.with_trackers(
        TrainHooks(on_tick=lambda record: seen.append(("caller tick", record.kimg))),
        Options(("tensorboard",)),
    )
    run = type("Run", (), {"path": tmp_path / "00000-run"})()
    grid = tmp_path / "samples.png"
    Image.new("RGB", (4, 6)).save(grid)

    hooks.on_open(run, False)
    hooks.on_tick(StatsLine(kimg=0.5, loss_d=1.25, img_per_sec=100.0))
    hooks.on_metrics(0.5, [MetricLine(metric="fid500_train", kind="fid", value=42.0)])
    hooks.on_grid(0.5, grid)
    hooks.on_close(run, "budget")

    assert seen == [("caller tick", 0.5)]
    assert Recorder.calls == [
        ("open", "00000-run", ("tensorboard",)),
        (
            "scalars",
            0.5,
            {"Loss/D/loss": 1.25, "Timing/img_per_sec": 100.0, "Progress/kimg": 0.5, "Timing/sec_per_kimg": 10.0},
        ),
        ("scalars", 0.5, {"Metrics/fid500_train": 42.0}),
        ("image", 0.5, "Samples/G_ema", (6, 4, 3)),
        ("close",),
    ]


def test_without_trackers_the_hooks_are_unchanged():
    from bench.train.loop import TrainHooks
    from bench.train.trackers import with_trackers

    hooks = TrainHooks()
    assert with_trackers(hooks, Options(())) is hooks


@pytest.mark.slow
def test_a_grid_mirrors_its_runs_and_their_evaluations(tmp_path, one_thread):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    args = ["bench", "quick", "--models", "conv", "--kimg", "0.016", "--num-gen", "16", "--features", "random-conv"]
    args += [
        "--no-profile",
        "--executor",
        "debug",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "grid.md"),
    ]
    assert main([*args, "--tracker", "tensorboard"]) == 0
    (run,) = (tmp_path / "runs").glob("00000-*")
    tb = events(run)
    assert by_step(tb, "Loss/D/loss") == {16: pytest.approx(jsonl(run / "stats.jsonl")[-1]["loss_d"], rel=1e-6)}
    # The grid evaluates G at initialisation and G_ema at the budget; both reach the tracker.
    lines = jsonl(run / "metric-fid16_train-random-conv.jsonl")
    expected = {round(line["kimg"] * 1000): pytest.approx(line["value"], rel=1e-6) for line in lines}
    assert sorted(expected) == [0, 16]
    assert by_step(tb, "Metrics/fid16_train-random-conv") == expected
