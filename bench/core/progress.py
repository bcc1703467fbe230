"""Progress that works in a terminal and in a log: a live rich bar, or plain timestamped lines when not a TTY.

Under `nohup`, CI or `> log.txt` a live bar prints nothing until it ends, so long commands looked
dead for half an hour. Without a terminal the same `Progress` API prints one line per stage (a new
task or description) and per interval (`$LADABENCH_PROGRESS_SECONDS`, default 30 s), with the
count, rate and ETA rich already tracks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.progress import Progress, Task, TaskID

LINE_INTERVAL_ENV = "LADABENCH_PROGRESS_SECONDS"
DEFAULT_LINE_INTERVAL_S = 30.0
# rich estimates speed (hence ETA) from the updates of the last 30 s by default; a training tick of a slow
# model or a grid step takes minutes, which left the ETA unknown ('?') for the whole run.
SPEED_WINDOW_S = 3600.0

LineFormat = Callable[[Task], str]


def _clock(seconds: float | None) -> str:
    """H:MM:SS, or '?' when unknown."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def timing(task: Task) -> str:
    """'elapsed H:MM:SS, ETA H:MM:SS' of a task."""
    return f"elapsed {_clock(task.elapsed)}, ETA {_clock(task.time_remaining)}"


def default_line(task: Task) -> str:
    """'description: done/total (pct%), elapsed H:MM:SS, ETA H:MM:SS' (no ETA for a task added with eta=False)."""
    if task.total:
        done = f"{task.completed:g}/{task.total:g} ({100.0 * task.completed / task.total:.0f}%)"
    else:
        done = f"{task.completed:g}"
    clock = timing(task) if task.fields.get("eta", True) else f"elapsed {_clock(task.elapsed)}"
    return f"{task.description}: {done}, {clock}"


class LoggedProgress(Progress):
    """rich's Progress, which in a non-terminal console prints plain lines instead of a live bar."""

    def __init__(
        self,
        *columns,
        console: Console,
        line: LineFormat = default_line,
        transient: bool = False,
        get_time: Callable[[], float] | None = None,
    ):
        """`line` renders one task as text in plain-line mode (columns serve a terminal); `get_time` is the clock."""
        self.plain = not console.is_terminal
        super().__init__(
            *columns,
            console=console,
            transient=transient,
            disable=self.plain,
            speed_estimate_period=SPEED_WINDOW_S,
            get_time=get_time,
        )
        self.line = line
        self.interval_s = float(os.environ.get(LINE_INTERVAL_ENV, DEFAULT_LINE_INTERVAL_S))
        self._printed: dict[
            TaskID, tuple[float, tuple[str, bool]]
        ] = {}  # task -> (time, (description, finished)) of its last line

    def add_task(self, description: str, *args, **kwargs) -> TaskID:
        """A new task; in plain mode its first line is printed at once (a new stage)."""
        task_id = super().add_task(description, *args, **kwargs)
        self._log(task_id)
        return task_id

    def update(self, task_id: TaskID, *args, **kwargs) -> None:
        """Update as rich does; in plain mode print when the stage changed, the task finished or the interval passed."""
        super().update(task_id, *args, **kwargs)
        self._log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Advance as rich does, then maybe print a line."""
        super().advance(task_id, advance)
        self._log(task_id)

    def reset(self, task_id: TaskID, *args, **kwargs) -> None:
        """Reset as rich does (a task reused for the next stage), then print its first line."""
        super().reset(task_id, *args, **kwargs)
        self._log(task_id)

    def line_now(self, task_id: TaskID) -> None:
        """In plain mode, print the task's line now (e.g. at the end of a training tick)."""
        self._log(task_id, force=True)

    def _log(self, task_id: TaskID, force: bool = False) -> None:
        """In plain mode, print the task's line on a new stage, on finishing (once) or when the interval passed."""
        if not self.plain:
            return
        task = self._tasks[task_id]
        if not task.visible or not task.description:
            return
        finished = task.total is not None and task.completed >= task.total
        state, now = (task.description, finished), time.monotonic()
        last = self._printed.get(task_id)
        if not force and last is not None and last[1] == state and (finished or now - last[0] < self.interval_s):
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[{stamp}] {self.line(task)}", markup=False, highlight=False, soft_wrap=True)
        self._printed[task_id] = (now, state)
