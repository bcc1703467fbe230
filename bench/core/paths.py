"""Where the suite keeps its caches: one root, overridable, never /tmp or site-packages."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LADABENCH_CACHE"


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
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False
