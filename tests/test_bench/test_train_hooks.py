"""The trainer's hooks and stop signals, as trackers and cluster executors use them: what each sees, and when."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from clicheck import TINY

from bench.cli import main
from bench.core.interrupt import Interrupted
from bench.core.records import StatsLine
from bench.core.rundir import RunDir
from bench.train.loop import TrainHooks
from bench.train.options import TrainOptions
from bench.train.session import train
from bench.train.state import load_snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


def _options(tmp_path: Path, capsys) -> TrainOptions:
    """Tiny LadaGAN options as `ladabench train` resolves them: 32 images, ticks of 8, snapshots every 16."""
    args = ["train", *TINY, "--kimg", "0.032", "--snapshot-kimg", "0.016", "--out", str(tmp_path / "runs")]
    assert main([*args, "--dry-run"]) == 0
    return TrainOptions.from_json(json.loads(capsys.readouterr().out))


def _recording_hooks(events: list[tuple[str, Any]], **overrides: Any) -> TrainHooks:
    """Hooks that append (hook name, what it was given) to `events`."""

    def evaluate(run: RunDir, snapshot: Path, device: str) -> list[str]:
        """A stand-in evaluation: one row naming the snapshot."""
        return [f"fake metric of {snapshot.name}"]

    hooks = {
        "on_tick": lambda line: events.append(("tick", line)),
        "on_snapshot": evaluate,
        "on_metrics": lambda kimg, rows: events.append(("metrics", (kimg, rows))),
        "on_grid": lambda kimg, path: events.append(("grid", (kimg, path))),
        "on_open": lambda run, resumed: events.append(("open", resumed)),
        "on_close": lambda run, reason: events.append(("close", reason)),
    }
    return TrainHooks(**{**hooks, **overrides})


def test_hooks_see_each_tick_line_grid_and_evaluation_between_the_run_opening_and_closing(tmp_path, capsys):
    options = _options(tmp_path, capsys).replace(metrics=("fake",), eval_kimg=0.016)
    events: list[tuple[str, Any]] = []
    run = train(options, hooks=_recording_hooks(events))
    names = [name for name, _ in events]
    assert names[0] == "open" and events[0][1] is False and events[-1] == ("close", "budget")
    assert names[1:-1] == ["grid", "tick", "tick", "grid", "metrics", "tick", "tick", "grid", "metrics"]
    ticks = [line for name, line in events if name == "tick"]
    assert all(isinstance(line, StatsLine) for line in ticks)
    assert [line.to_json() for line in ticks] == [json.loads(ln) for ln in run.stats_path.read_text().splitlines()]
    grids = [value for name, value in events if name == "grid"]
    assert grids == [(kimg, run.samples_path(images)) for kimg, images in ((0.0, 0), (0.016, 16), (0.032, 32))]
    assert all(path.is_file() for _, path in grids)
    metrics = [value for name, value in events if name == "metrics"]
    assert metrics == [
        (0.016, ["fake metric of snapshot-000000.016.pt"]),
        (0.032, ["fake metric of snapshot-000000.032.pt"]),
    ]


def test_a_signal_given_to_train_snapshots_and_stops_the_run_and_its_handler_is_restored(tmp_path, capsys):
    # A cluster executor passes the scheduler's pre-kill signal (submitit: SIGUSR2); the run must stop as on SIGTERM.
    options = _options(tmp_path, capsys)
    before = signal.getsignal(signal.SIGUSR2)
    events: list[tuple[str, Any]] = []

    def stop_at_first_tick(line: StatsLine) -> None:
        """Send the signal once, at the end of the first tick (a second one would abort)."""
        if line.tick == 1:
            os.kill(os.getpid(), signal.SIGUSR2)

    hooks = _recording_hooks(events, on_tick=stop_at_first_tick)
    with pytest.raises(Interrupted, match="interrupted at 0.016 kimg; resume with"):
        train(options, hooks=hooks, stop_signals=(signal.SIGINT, signal.SIGTERM, signal.SIGUSR2))
    assert signal.getsignal(signal.SIGUSR2) is before
    assert events[-1] == ("close", "interrupted")
    (run_path,) = (tmp_path / "runs").iterdir()
    (snapshot,) = RunDir(run_path).snapshots()
    assert load_snapshot(snapshot)["images_seen"] == 16  # the iteration after the signal was the last one
