"""Reader for the IDX format of (Fashion-)MNIST, gzip-compressed or plain."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bench.core.errors import UserError

_UINT8_CODE = 0x08


def read_idx_uint8(path: Path) -> np.ndarray:
    """The uint8 array stored in an IDX file (e.g. (N, 28, 28) images); UserError if it is not one."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"cannot read {path}: {exc}; delete it and obtain the file again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _UINT8_CODE:
        raise UserError(f"{path} is not a uint8 IDX file (bad magic number); obtain the file again")
    ndim = data[3]
    header_bytes = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) if shape else 0
    if len(data) - header_bytes != expected:
        raise UserError(
            f"{path} is truncated or damaged: header says {shape}, "
            f"holds {len(data) - header_bytes} of {expected} bytes; obtain the file again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)
