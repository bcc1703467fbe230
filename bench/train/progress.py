"""The training progress bar: images (or seconds) done of the budget, img/s, losses, elapsed and ETA."""

from __future__ import annotations

import math

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bench.core.progress import LoggedProgress, timing


def training_progress(
    console: Console, total_images: int | None, total_seconds: float | None, done: float
) -> LoggedProgress:
    """A progress bar over images (or over seconds when only --minutes bounds the run); `done` in its unit.

    Without a terminal it prints a line per interval: kimg done of the budget, img/s, losses, ETA.
    """
    by_images = total_images is not None

    def line(task: Task) -> str:
        """The plain-line form of the bar."""
        budget = BudgetColumn(by_images).render(task).plain
        fields = task.fields
        return (
            f"train {budget}, {fields['img_per_sec']:.0f} img/s, loss D {fields['loss_d']:.3f} "
            f"G {fields['loss_g']:.3f}, {timing(task)}"
        )

    progress = LoggedProgress(
        TextColumn("[bold]train[/]"),
        BarColumn(),
        BudgetColumn(by_images),
        TextColumn(
            "{task.fields[img_per_sec]:.0f} img/s  loss D {task.fields[loss_d]:.3f}  G {task.fields[loss_g]:.3f}"
        ),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        line=line,
    )
    total = total_images if by_images else total_seconds
    progress.add_task("train", total=total, completed=done, img_per_sec=0.0, loss_d=math.nan, loss_g=math.nan)
    return progress


class BudgetColumn(ProgressColumn):
    """'done/budget kimg' (or seconds for a wall-clock-only run)."""

    def __init__(self, by_images: bool):
        """Choose the unit."""
        super().__init__()
        self.by_images = by_images

    def render(self, task) -> Text:
        """The text for one refresh."""
        if self.by_images:
            return Text(f"{task.completed / 1000:.3f}/{task.total / 1000:g} kimg")
        return Text(f"{task.completed:.0f}/{task.total:.0f} s")
