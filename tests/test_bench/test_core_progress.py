"""Progress in a terminal (live bar) and in a log (plain timestamped lines per stage and per interval)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.progress import BarColumn, TextColumn

from bench.core.progress import LINE_INTERVAL_ENV, LoggedProgress


def _lines(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


def test_without_a_terminal_each_stage_and_the_finish_print_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LINE_INTERVAL_ENV, "3600")  # no interval lines: only stages and finishes
    out = io.StringIO()
    with LoggedProgress(TextColumn("{task.description}"), BarColumn(), console=Console(file=out)) as progress:
        task = progress.add_task("train conv s0", total=10)
        for _ in range(9):
            progress.advance(task)
        progress.advance(task)  # finished: one line
        progress.advance(task, 0)  # still finished: no new line
        progress.reset(task, description="eval conv", total=4)
        progress.update(task, completed=2)
    lines = _lines(out)
    assert len(lines) == 3, lines
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] train conv s0: 0/10 \(0%\), elapsed 0:00:00, ETA \?", lines[0])
    assert "train conv s0: 10/10 (100%)" in lines[1]
    assert "eval conv: 0/4 (0%)" in lines[2]


def test_without_a_terminal_a_line_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LINE_INTERVAL_ENV, "0")
    out = io.StringIO()
    with LoggedProgress(TextColumn("{task.description}"), console=Console(file=out)) as progress:
        task = progress.add_task("features", total=100)
        for done in (10, 20, 30):
            progress.update(task, completed=done)
    assert [re.search(r"features: (\d+)/100", line)[1] for line in _lines(out)] == ["0", "10", "20", "30"]


def test_eta_is_known_when_updates_are_minutes_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LINE_INTERVAL_ENV, "0")
    now = [0.0]
    out = io.StringIO()
    with LoggedProgress(
        TextColumn("{task.description}"), console=Console(file=out), get_time=lambda: now[0]
    ) as progress:
        task = progress.add_task("grid", total=10)
        for step in range(1, 4):  # a step every 5 min, ten times rich's default speed window
            now[0] = 300.0 * step
            progress.advance(task)
    # 3 of 10 steps in 900 s: 7 steps left at 300 s each
    assert _lines(out)[-1].endswith("grid: 3/10 (30%), elapsed 0:15:00, ETA 0:35:00")


def test_a_task_added_without_eta_prints_only_elapsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LINE_INTERVAL_ENV, "0")
    now = [0.0]
    out = io.StringIO()
    with LoggedProgress(
        TextColumn("{task.description}"), console=Console(file=out), get_time=lambda: now[0]
    ) as progress:
        task = progress.add_task("grid", total=4, eta=False)
        for step in (1, 2):
            now[0] = 60.0 * step
            progress.advance(task)
    assert _lines(out)[-1].endswith("grid: 2/4 (50%), elapsed 0:02:00")


def test_in_a_terminal_no_plain_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with LoggedProgress(TextColumn("{task.description}"), console=console, transient=True) as progress:
        task = progress.add_task("features", total=3)
        progress.advance(task, 3)
    assert "features: " not in out.getvalue()


def test_training_without_a_terminal_prints_a_line_per_tick(tmp_path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from threads import one_torch_thread

    from bench.cli import main

    monkeypatch.setenv(LINE_INTERVAL_ENV, "3600")
    with one_torch_thread():
        assert (
            main(
                [
                    "train",
                    "ladagan",
                    "--preset",
                    "tiny",
                    "--batch",
                    "8",
                    "--kimg",
                    "0.024",
                    "--tick-kimg",
                    "0.008",
                    "--device",
                    "cpu",
                    "--out",
                    str(tmp_path),
                ]
            )
            == 0
        )
    ticks = re.findall(r"train (\d\.\d{3})/0\.024 kimg, (\d+) img/s, loss D (\S+) G", capsys.readouterr().out)
    assert list(dict.fromkeys(t[0] for t in ticks if t[2] != "nan")) == ["0.008", "0.016", "0.024"]
    assert all(int(t[1]) > 0 for t in ticks if t[2] != "nan")
