"""Ctrl-C and SIGTERM as one clean line: a command stops where it is, leaves nothing partial and exits 130.

Every file the suite writes is written whole (atomic rename, or one fsynced line), so stopping a
command at any point leaves each file either as it was or complete. Typer would turn a
KeyboardInterrupt into a bare exit, so commands install these handlers themselves; training installs
its own for the span of a run (it finishes the current iteration and writes a snapshot first).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from bench.core.errors import UserError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED_EXIT_CODE = 130  # the shell's code for a process ended by SIGINT


class Interrupted(UserError):
    """A command stopped on a signal; the message says what was kept and how to go on."""

    exit_code = INTERRUPTED_EXIT_CODE
    label = None  # the message itself starts with "interrupted"


@contextmanager
def interrupt_with(message: str) -> Iterator[None]:
    """Inside the block, the first SIGINT/SIGTERM raises Interrupted(message); later ones wait for the unwinding.

    Only the main thread receives signals; elsewhere the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        """Stop here: ignore further signals while the stack unwinds (cleanup of temporary files runs whole)."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(message)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
