"""Content hashes over (source files, preprocessing) that key the dataset and metric caches.

Small sources (at most `CONTENT_HASH_MAX_BYTES` in total and `CONTENT_HASH_MAX_FILES` files, e.g.
the Fashion-MNIST IDX files, the embedded asset, a test folder) are hashed by their bytes, so the
hash is the same on every machine. Larger ones (CelebA, FFHQ, LSUN, CIFAR-10's 170 MB of batches)
are hashed by each file's relative path, size and modification time: re-reading gigabytes (or
opening 10^5 files) on every `load_dataset` call would cost minutes, and a copy that keeps times
(`cp -p`, `rsync -a`, `tar x`) keeps the hash.
Any edit, addition, removal or rename of a file changes either form.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# Bump when the decoding code changes in a way that changes pixels: old caches become stale.
DATA_FORMAT_VERSION = 1
CONTENT_HASH_MAX_BYTES = 64 * 1024 * 1024
CONTENT_HASH_MAX_FILES = 1000


def _file_sha256(path: Path) -> str:
    """sha256 of one file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to `root` as a '/'-separated string (its file name when outside root)."""
    full, base = str(path), str(root).rstrip(os.sep) + os.sep
    return full[len(base) :].replace(os.sep, "/") if full.startswith(base) else path.name


def files_fingerprint(root: Path, files: list[Path]) -> dict:
    """A digest of the files (bytes when few and small, else path+size+mtime) and which mode was used."""
    stats = [os.stat(f) for f in files]
    total_bytes = sum(st.st_size for st in stats)
    small = total_bytes <= CONTENT_HASH_MAX_BYTES and len(files) <= CONTENT_HASH_MAX_FILES
    mode = "content" if small else "stat"
    digest = hashlib.sha256()
    for path, st in zip(files, stats, strict=True):
        rel = relative_name(path, root)
        if mode == "content":
            digest.update(f"{rel}\0{_file_sha256(path)}\n".encode())
        else:
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {"mode": mode, "files": len(files), "bytes": total_bytes, "digest": digest.hexdigest()}


def content_hash(fingerprint: dict, preprocessing: dict) -> str:
    """Hex sha256 over the files' fingerprint, the preprocessing and the data format version."""
    payload = {"format": DATA_FORMAT_VERSION, "files": fingerprint, "preprocessing": preprocessing}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
