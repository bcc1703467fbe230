"""Snapshots and RNG states: checksummed snapshot files, and dicts that `torch.load(weights_only=True)` accepts."""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.errors import UserError
from bench.core.files import atomic_write_bytes

CHECKSUM_KEY = "checksum"


class SnapshotError(UserError):
    """A snapshot file that cannot be used: truncated, corrupted, or carrying more than weights."""


class UnsafeSnapshotError(SnapshotError):
    """A snapshot carrying pickled Python objects: refused by `weights_only=True` before anything runs."""


def _digest(value: Any, sha: hashlib._Hash, path: str = "") -> None:
    """Feed every leaf of a snapshot (tensor bytes with dtype and shape, or the repr of a plain value) to `sha`."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            if path == "" and key == CHECKSUM_KEY:
                continue
            _digest(value[key], sha, f"{path}/{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _digest(item, sha, f"{path}/{i}")
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        sha.update(f"{path}:{t.dtype}:{tuple(t.shape)}:".encode())
        sha.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        sha.update(f"{path}={value!r};".encode())


def snapshot_checksum(snapshot: dict[str, Any]) -> str:
    """sha256 over a snapshot's contents (not its file bytes), so a load can tell a damaged file."""
    sha = hashlib.sha256()
    _digest(snapshot, sha)
    return sha.hexdigest()


def save_snapshot(path: Path, snapshot: dict[str, Any]) -> None:
    """Serialise a snapshot dict (plus its content checksum) with torch.save and write it atomically."""
    snapshot = {**snapshot, CHECKSUM_KEY: {"sha256": snapshot_checksum(snapshot)}}
    buffer = io.BytesIO()
    torch.save(snapshot, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_snapshot(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a snapshot with `weights_only=True` (a file from a stranger cannot run code) and verify its checksum.

    Raises SnapshotError naming the file and what is wrong with it: unsafe content (pickled Python
    objects other than tensors and plain values: refused before anything in them runs), a truncated
    or unreadable file, or contents that no longer match the checksum written with them.
    """
    path = Path(path)
    try:
        snapshot = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refuses any global it does not allow
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UnsafeSnapshotError(
            f"snapshot {path} was refused: it contains pickled Python objects, not only tensors and plain "
            f"values, and loading it could run code ({first[:200]}); use only snapshots written by ladabench"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]  # an empty file: EOFError("")
        raise SnapshotError(f"snapshot {path} is truncated or unreadable ({reason})") from None
    if not isinstance(snapshot, dict):
        raise SnapshotError(f"snapshot {path} is not a ladabench snapshot (it holds a {type(snapshot).__name__})")
    stored = snapshot.pop(CHECKSUM_KEY, None)
    if stored is not None and stored.get("sha256") != snapshot_checksum(snapshot):
        raise SnapshotError(f"snapshot {path} is corrupted: its contents no longer match the checksum saved with them")
    return snapshot


def capture_rng(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Every RNG state that can influence training (python, numpy, torch CPU/CUDA, our own generators)."""
    py_version, py_state, py_gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
        "numpy": {
            "kind": np_kind,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "generators": {name: gen.get_state() for name, gen in generators.items()},
    }


def restore_rng(rng: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Put every RNG back to a captured state (CUDA states only when this machine has as many devices)."""
    py = rng["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = rng["numpy"]
    np.random.set_state(
        (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    )
    torch.set_rng_state(rng["torch_cpu"])
    cuda_states = rng.get("torch_cuda") or []
    if torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    for name, gen in generators.items():
        gen.set_state(rng["generators"][name])
