"""One writer per run: an exclusive lock file in the run directory naming its owner (pid, host, start time).

The lock is an `flock` on `<run>/train.lock`, so the kernel drops it when the owner dies in any way
(SIGKILL included); the file's JSON names the owner for the refusal message. A lock file whose
owner is gone (its flock is free) is stale: it is taken over and the take-over is logged.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from rich.markup import escape

from bench.core.console import err_console
from bench.core.errors import UserError
from bench.core.rundir import RunDir


class RunLockedError(UserError):
    """Another live process is training this run."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _describe(owner: dict[str, Any]) -> str:
    """'pid 123 on host h since 2026-...' for messages."""
    return f"pid {owner.get('pid')} on host {owner.get('hostname')} since {owner.get('started_utc')}"


class RunLock:
    """Context manager holding a run directory's lock; released on normal exit and on errors."""

    def __init__(self, run: RunDir, log: Callable[[str], None] | None = None):
        """Lock `run`; the stale-lock take-over line goes to `log` (default: the run's log.txt)."""
        self.path = run.lock_path
        self.log = log or run.log
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise RunLockedError naming the owner."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = self._read(fd) or {"pid": "?", "hostname": "?", "started_utc": "?"}
                os.close(fd)
                raise RunLockedError(
                    f"run {self.path.parent} is being trained by {_describe(owner)} (lock {self.path}); "
                    "wait for it to finish or stop it before resuming; only one process may write a run"
                ) from None
            # The file may have been unlinked by its releasing owner between our open and flock: retry.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._read(fd)
        if previous is None:
            line = (
                f"lock file {self.path} was unreadable (not a ladabench lock record) and no process holds it: "
                "treated as stale and taken over"
            )
            self.log("warning: " + line)
            err_console.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
        elif previous:
            state = "no longer running" if not pid_alive(int(previous.get("pid", -1))) else "no longer holding it"
            self.log(f"took over a stale lock from {_describe(previous)} ({state})")
        owner = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command_line": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        """Remove the lock file, then drop the flock (in that order, so no one locks a file about to vanish)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    @staticmethod
    def _read(fd: int) -> dict[str, Any] | None:
        """The owner record in the lock file ({} when empty, None when it is not a record with an integer pid)."""
        try:
            text = os.pread(fd, 65536, 0).decode()
            record = json.loads(text) if text.strip() else {}
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or (record and not isinstance(record.get("pid"), int)):
            return None
        return record

    def __enter__(self) -> RunLock:
        """Acquire on entry."""
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Release on any exit."""
        self.release()
