"""Provenance of a run: versions, hardware, git state and command line, as env.json records them."""

from __future__ import annotations

import datetime as dt
import platform
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

OUTPUT_PATHS = ("reports",)  # tracked folders of generated files, left out of `git_dirty`


def _git(*args: str) -> str | None:
    """Output of a git command in this source tree, or None when git or the repository is absent."""
    repo = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _package_version(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment_info(device: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Versions, hardware and provenance recorded in env.json (what a reader needs to trust a number).

    `extra` adds what only the caller knows (the command line layer adds the FID weights' hash when
    it evaluates during training: training itself never reads those weights).
    """
    cuda = torch.device(device).type == "cuda"
    sha = _git("rev-parse", "HEAD")
    # Generated reports are outputs, not code: regenerating one must not mark the next run's code dirty.
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":(exclude){p}" for p in OUTPUT_PATHS))
    return {
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": device,
        "gpu_name": torch.cuda.get_device_name(torch.device(device)) if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "git_sha": sha,
        "git_dirty": None if status is None else bool(status),
        "clean_fid": _package_version("clean-fid"),
        "hostname": socket.gethostname(),
        "command_line": sys.argv,
        **(extra or {}),
    }
