"""Downloads through torchvision, only where the network allows, failing fast and atomically offline."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from bench.core.paths import cache_root

OFFLINE_ENV = "LADABENCH_OFFLINE"
PROBE_TIMEOUT_S = 5.0


def downloads_dir() -> Path:
    """Where datasets fetched by the suite are kept (inside the cache root; created only on download)."""
    return cache_root() / "downloads"


def offline_by_env() -> bool:
    """True when `$LADABENCH_OFFLINE` is set (to anything but 0): never try to download."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def network_allows(url: str) -> bool:
    """True when the URL's host answers a TCP connection within a few seconds (and not offline by env).

    Checked before torchvision's download, which would otherwise retry or hang on a dead network.
    """
    if offline_by_env():
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def download_into(final_dir: Path, fetch: Callable[[Path], Path]) -> Path:
    """Run `fetch(tmp_dir) -> produced_dir` in a temp folder beside `final_dir`, then rename into place.

    A failed or interrupted download leaves nothing at `final_dir`.
    """
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", dir=final_dir.parent))
    try:
        produced = fetch(tmp)
        os.replace(produced, final_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final_dir
