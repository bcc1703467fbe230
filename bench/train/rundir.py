"""The run directory: naming, env.json, log.txt, stats.jsonl, finding snapshots, and `load_generator`."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from bench.errors import UserError
from bench.train.state import atomic_write_bytes, atomic_write_json, load_snapshot

SNAPSHOT_GLOB = "snapshot-*.pt"


def kimg_tag(images_seen: int) -> str:
    """The six-digit file tag for a point in training: images seen // 1000, zero-padded."""
    return f"{images_seen // 1000:06d}"


def _slug(text: str) -> str:
    """A folder-name-safe version of a dataset or preset name ('folder:/a/b@64' -> 'folder-b-64')."""
    if text.startswith("folder:"):
        path, _, res = text[len("folder:") :].partition("@")
        text = f"folder-{Path(path).name}" + (f"-{res}" if res else "")
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-") or "data"


def run_name(run_id: int, options: dict[str, Any]) -> str:
    """`<NNNNN>-<model>-<data>-<preset>-kimg<K>-seed<S>` as in the design."""
    kimg = "inf" if options["total_kimg"] is None else f"{options['total_kimg']:g}"
    return (
        f"{run_id:05d}-{_slug(options['model'])}-{_slug(options['data'])}-{_slug(options['preset'])}"
        f"-kimg{kimg}-seed{options['seed']}"
    )


def create_run_dir(out_dir: Path, options: dict[str, Any]) -> Path:
    """Make a new numbered run folder under `out_dir` (the next free number; safe against races)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output folder {out_dir} ({exc}); pass a writable --out") from exc
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"the output folder {out_dir} is not writable; pass a writable --out")
    used = [int(m.group(1)) for p in out_dir.iterdir() if (m := re.match(r"(\d{5,})-", p.name))]
    run_id = max(used, default=-1) + 1
    while True:
        run_dir = out_dir / run_name(run_id, options)
        try:
            run_dir.mkdir()  # fails if another process took this number first
            return run_dir
        except FileExistsError:
            run_id += 1


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
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment_info(device: str) -> dict[str, Any]:
    """Versions, hardware and provenance recorded in env.json (what a reader needs to trust a number)."""
    cuda = torch.device(device).type == "cuda"
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    try:
        from bench.metrics.weights import locate_inception

        inception_sha256 = locate_inception().sha256
    except Exception:  # noqa: BLE001 - provenance only; training never needs the weights
        inception_sha256 = None
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
        "inception_sha256": inception_sha256,
        "hostname": socket.gethostname(),
        "command_line": sys.argv,
    }


def write_env(run_dir: Path, device: str) -> None:
    """Write env.json (atomically)."""
    atomic_write_json(run_dir / "env.json", environment_info(device))


def append_line(path: Path, line: str) -> None:
    """Append one line and push it to disk (a crash loses at most the line being written)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def log(run_dir: Path, message: str) -> None:
    """Append a time-stamped line to log.txt."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    append_line(run_dir / "log.txt", f"{stamp}  {message}")


def append_stats(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one tick's record to stats.jsonl."""
    append_line(run_dir / "stats.jsonl", json.dumps(record))


def truncate_stats(run_dir: Path, images_seen: int) -> None:
    """Keep only stats lines up to a snapshot's images_seen (ticks after it will be trained again)."""
    path = run_dir / "stats.jsonl"
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["images_seen"] <= images_seen:
                kept.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a line cut short by a crash: its tick will be trained and logged again
    atomic_write_bytes(path, "".join(ln + "\n" for ln in kept).encode())


def read_options(run_dir: Path) -> dict[str, Any]:
    """options.json of a run, or a UserError saying the folder is not a run."""
    path = Path(run_dir) / "options.json"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a training run (no options.json); pass a folder made by `ladabench train`")
    return json.loads(path.read_text())


def snapshots(run_dir: Path) -> list[Path]:
    """The run's snapshots, oldest first (the tag orders them: images seen // 1000)."""
    return sorted(Path(run_dir).glob(SNAPSHOT_GLOB))


def latest_snapshot(run_dir: Path) -> Path:
    """The newest snapshot of a run, or a UserError when it has none."""
    found = snapshots(run_dir)
    if not found:
        raise UserError(f"run {run_dir} has no snapshot yet; train it (or resume it) until one is written")
    return found[-1]


def split_resume_path(path: Path, require_snapshot: bool = True) -> tuple[Path, Path | None]:
    """`--resume` accepts a run folder or a snapshot file: return (run_dir, snapshot).

    For a folder the snapshot is its latest, or None with `require_snapshot=False` (the caller then
    picks the newest one that loads, see `snapshots.load_resumable`).
    """
    path = Path(path)
    if path.is_file():
        return path.parent, path
    if path.is_dir():
        return path, latest_snapshot(path) if require_snapshot else None
    raise UserError(f"--resume {path}: no such run folder or snapshot file")


def load_generator(run_dir: Path, snapshot: Path | None = None, device: str = "cpu"):
    """Rebuild G from the run's options through the registry and load G_ema: (G_ema, options, snapshot_path).

    The generator is returned in eval mode on `device`.
    """
    from bench.registry import get_model

    run_dir = Path(run_dir)
    options = read_options(run_dir)
    snapshot = Path(snapshot) if snapshot is not None else latest_snapshot(run_dir)
    spec = get_model(options["model"])
    preset = spec.presets[options["preset"]]
    generator, _ = spec.build(preset)
    state = load_snapshot(snapshot)
    generator.load_state_dict(state["G_ema"])
    return generator.to(device).eval(), options, snapshot
