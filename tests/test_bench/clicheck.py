"""Shared checks of the CLI's failure rule: one error line, nothing changed on disk; a tiny stopped run to try it on."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from threads import one_torch_thread

from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a CLI subprocess: one thread, this test session's cache, this checkout importable."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200", **extra}


def error_lines(err: str) -> list[str]:
    """The non-empty stderr lines, minus the data-reading progress line a first use of the dataset prints."""
    return [ln for ln in err.splitlines() if ln.strip() and "reading fashion10k" not in ln]


def one_error_line(capsys) -> str:
    """The single line the command wrote to stderr (failing on a traceback or several lines)."""
    err = capsys.readouterr().err
    lines = error_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def fingerprint(folder: Path, skip: tuple[str, ...] = ("log.txt",)) -> dict[str, tuple[str, int]]:
    """Every file below `folder` (names in `skip` aside) with its sha256 and mtime in ns: equal means unchanged."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.name not in skip
    }


def train_stopped_run(out: Path) -> Path:
    """A tiny run stopped at 16 of 32 images (one snapshot, snapshot-000000.016.pt); returns its folder."""
    with one_torch_thread():
        assert main(["train", *TINY, "--kimg", "0.032", "--stop-kimg", "0.016", "--seed", "2", "--out", str(out)]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def copy_run(run: Path, into: Path) -> Path:
    """A private copy of a run folder under `into`."""
    return Path(shutil.copytree(run, into / run.name))


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """A command prefix under which `folder` is read-only, for a CLI subprocess started inside the block.

    Root ignores file modes, so for root the prefix runs the command in a private mount namespace with
    a read-only bind mount of the folder (gone with the process); anyone else gets `chmod a-w` for the block.
    """
    folder = Path(folder)
    if os.geteuid() == 0:
        prefix = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]
        if shutil.which("unshare") is None or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root without mount namespaces: no way to make a folder read-only")
        yield prefix
        return
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        yield []
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def start_cli(args: list[str], out: Path, **env: str) -> subprocess.Popen:
    """A real `python -m bench.cli ARGS` subprocess; its stdout and stderr go to files in `out` (read them any time)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stdout.txt", "w") as stdout, open(out / "stderr.txt", "w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.cli", *args],
            env=subprocess_env(**env),
            stdout=stdout,
            stderr=stderr,
            text=True,
        )


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    """Poll until `predicate()` holds; fail (killing the process) if it ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the command ended (rc {proc.returncode}) before the test could interrupt it")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the command made no progress in time")
        time.sleep(0.05)
