"""Find and read the authors' released TensorFlow checkpoints (and their config.json) as numpy arrays.

The Hub layout (milmor/LadaGAN) per dataset: `<name>/config.json` and
`<name>/best-training-checkpoints/{checkpoint, ckpt-<images>.index, ckpt-<images>.data-00000-of-00001}`.
Reading needs TensorFlow (the `ladabench[tf]` extra): the pure-Python reader on PyPI does not import
on Python 3.11 or NumPy 2, and TensorFlow's own reader also checks each tensor's checksum, so a
damaged file is refused rather than converted. It runs in a child process (tf_dump.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import UserError

CHECKPOINTS_FOLDER = "best-training-checkpoints"
INSTALL_HINT = (
    "reading the authors' TensorFlow checkpoints needs TensorFlow; install it with: pip install 'ladabench[tf]'"
)
_DATA_SHARD = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_DUMP_SCRIPT = Path(__file__).with_name("tf_dump.py")
_STATE_FILE_ENTRY = re.compile(r'^model_checkpoint_path:\s*"([^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class CheckpointFiles:
    """A located checkpoint: its prefix (`.../ckpt-N`), its files, and the config.json beside it (if any)."""

    prefix: Path
    files: tuple[Path, ...]
    config: Path | None


def _pick_prefix(folder: Path) -> Path:
    """The checkpoint prefix in a folder of checkpoints: the one its `checkpoint` file names, else the only one."""
    state = folder / "checkpoint"
    if state.is_file():
        match = _STATE_FILE_ENTRY.search(state.read_text(errors="replace"))
        if match:  # a path saved on the authors' machine still names a file in this folder
            return folder / Path(match[1]).name
    prefixes = sorted({p.name.split(".")[0] for p in [*folder.glob("*.index"), *folder.glob("*.data-*-of-*")]})
    if len(prefixes) == 1:
        return folder / prefixes[0]
    if not prefixes:
        raise UserError(
            f"{folder} holds no TensorFlow checkpoint (no ckpt-N.index / .data file); pass the dataset "
            f"folder downloaded from milmor/LadaGAN (it holds {CHECKPOINTS_FOLDER}/)"
        )
    raise UserError(f"{folder} holds several checkpoints ({', '.join(prefixes)}); pass one of them as {folder}/ckpt-N")


def _prefix_of(source: Path) -> Path:
    """The checkpoint prefix that a user-given path names."""
    if (source / CHECKPOINTS_FOLDER).is_dir():
        return _pick_prefix(source / CHECKPOINTS_FOLDER)
    if source.is_dir():
        return _pick_prefix(source)
    if source.is_file() and (source.suffix == ".index" or _DATA_SHARD.search(source.name)):
        return source.parent / source.name.split(".")[0]
    if source.parent.is_dir() and any(source.parent.glob(source.name + ".*")):
        return source  # a prefix such as .../ckpt-68096000
    what = "is not a TensorFlow checkpoint (a ckpt-N.index or .data file)" if source.exists() else "does not exist"
    raise UserError(f"{source} {what}; pass the folder downloaded from milmor/LadaGAN (e.g. cifar10/)")


def locate(source: Path) -> CheckpointFiles:
    """The checkpoint that `source` names: a dataset folder, its checkpoints folder, or a `ckpt-N` prefix."""
    prefix = _prefix_of(Path(source).expanduser())
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise UserError(f"checkpoint index {index} is missing; download it beside the .data file")
    shards = sorted(prefix.parent.glob(prefix.name + ".data-*-of-*"))
    expected = int(_DATA_SHARD.search(shards[0].name)[2]) if shards else 1
    if len(shards) != expected:
        want = prefix.name + f".data-00000-of-{expected:05d}"
        raise UserError(
            f"checkpoint data for {prefix} is missing ({len(shards)} of {expected} shards, e.g. {want}); download it"
        )
    config = next(
        (p for p in (prefix.parent / "config.json", prefix.parent.parent / "config.json") if p.is_file()), None
    )
    return CheckpointFiles(prefix=prefix, files=(index, *shards), config=config)


def read_config(path: Path) -> dict[str, Any]:
    """The authors' config.json as a dict, or a UserError naming the file."""
    try:
        conf = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(
            f"{path} is not a readable JSON config ({str(exc).splitlines()[0][:120]}); download it again"
        ) from None
    if not isinstance(conf, dict):
        raise UserError(f"{path} is not a LadaGAN config.json (it holds a {type(conf).__name__}); download it again")
    return conf


def read_variables(files: CheckpointFiles, keep: tuple[str, ...]) -> tuple[dict[str, np.ndarray], str]:
    """The checkpoint variables whose key starts with one of `keep`, and the TensorFlow version that read them.

    TensorFlow runs in a child process (see tf_dump.py: it must not share a process with torch).
    """
    with tempfile.TemporaryDirectory(prefix="ladabench-tf-") as tmp:
        out = Path(tmp) / "variables.npz"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}  # reading needs no GPU
        done = subprocess.run(
            [sys.executable, str(_DUMP_SCRIPT), str(files.prefix), str(out), *keep],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode == 4:
            raise UserError(INSTALL_HINT)
        if done.returncode == 3:
            detail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "unreadable"
            raise UserError(f"checkpoint {files.prefix} is truncated or damaged ({detail}); download it again")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
            raise UserError(f"reading {files.prefix} with TensorFlow failed (exit {done.returncode}: {last})")
        with np.load(out) as saved:
            names = [str(n) for n in saved["names"]]
            variables = {name: saved[f"v{i}"] for i, name in enumerate(names)}
            return variables, str(saved["tensorflow"])


def file_digests(paths: tuple[Path, ...] | list[Path]) -> list[dict[str, Any]]:
    """Name, size and sha256 of each source file (provenance of an imported run)."""
    out = []
    for path in paths:
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        out.append({"path": str(Path(path).resolve()), "bytes": Path(path).stat().st_size, "sha256": sha.hexdigest()})
    return out
