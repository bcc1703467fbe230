"""Graceful stop on a signal: the first asks training to snapshot and stop after the current iteration; a second aborts.

Typer turns a KeyboardInterrupt into an exit before any command-level handler sees it, so the
training session installs its own handlers for the span of training and restores the old ones after.
Which signals stop a run is the caller's choice: SIGINT and SIGTERM by default; a cluster executor
adds the scheduler's pre-kill signal (SLURM's `--signal`, submitit's SIGUSR2).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType

from bench.core.interrupt import STOP_SIGNALS


class StopRequest:
    """Set by the first stop signal; the training loop polls it once per iteration."""

    def __init__(self) -> None:
        """No stop requested yet."""
        self.signal_name: str | None = None

    def __bool__(self) -> bool:
        """Whether a stop was requested."""
        return self.signal_name is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """First signal: remember it; second: abort at once (finished snapshots stay whole: writes are atomic)."""
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextmanager
def stop_on_signals(signals: Iterable[int] = STOP_SIGNALS, enabled: bool = True) -> Iterator[StopRequest]:
    """Handle `signals` as stop requests inside the block (only possible in the main thread; else never set)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request._handle) for sig in signals}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
