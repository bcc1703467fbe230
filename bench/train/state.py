"""Snapshots and RNG states: atomic writes, and dicts that `torch.load(weights_only=True)` accepts."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so a reader sees the old content or the new, never a half-written one.

    Temporary file in the same folder, flush + fsync, then `os.replace` (atomic on POSIX), then fsync
    the folder so the rename itself survives a power loss.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON (indented, keys in insertion order) atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def save_snapshot(path: Path, snapshot: dict[str, Any]) -> None:
    """Serialise a snapshot dict with torch.save and write it atomically."""
    buffer = io.BytesIO()
    torch.save(snapshot, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_snapshot(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a snapshot with `weights_only=True`, so a file from a stranger cannot run code."""
    return torch.load(path, map_location=map_location, weights_only=True)


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
