"""Where the suite keeps its caches: one root, overridable, never /tmp or site-packages."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.core.errors import UserError

CACHE_ENV = "LADABENCH_CACHE"
RUNS_DIR = "runs"  # where training runs go when no --out is given (relative to the working folder)


def cache_root() -> Path:
    """Root of every cache (prepared datasets, reference features); `$LADABENCH_CACHE` overrides."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ladabench"


def cache_dir(kind: str) -> Path:
    """A named sub-folder of the cache root (e.g. 'datasets', 'fid-features'), created on demand."""
    path = cache_root() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_writable(path: Path) -> bool:
    """True when a file can be created inside `path` (creating the folder if needed)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-"):  # a unique name, removed on close
            return True
    except OSError:
        return False


def require_writable_folder(folder: Path, option: str) -> None:
    """A UserError unless files can be created in `folder` (tried with a probe file; nothing is left behind).

    Checked before long work (training a grid, profiling) so that a bad output path fails at once. The
    probe goes into the deepest folder that exists, so nothing is created: creating the missing folders
    and removing them again raced with a second process starting on the same path (one removed the
    folder the other had just made or was probing).
    """
    folder = Path(folder).expanduser().absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{option}: {existing} is not a folder; pass a path in a writable folder")
    if not is_writable(existing):
        raise UserError(f"{option}: {existing} is not writable; pass a path in a writable folder")


def require_writable_file(path: Path, option: str) -> None:
    """A UserError unless `path` can be written as a file: not a folder, in a writable folder."""
    if Path(path).expanduser().is_dir():
        raise UserError(f"{option} {path} is a folder; pass a file path")
    require_writable_folder(Path(path).expanduser().parent, option)
