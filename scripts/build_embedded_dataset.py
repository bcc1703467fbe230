"""Rebuild the embedded `fashion10k` asset from the Debian package `dataset-fashion-mnist`.

    apt-get install -y dataset-fashion-mnist
    python scripts/build_embedded_dataset.py            # writes bench/assets/fashion10k/
    python scripts/build_embedded_dataset.py --check    # rebuilds in memory, compares with the asset

The asset is Fashion-MNIST's whole test file (t10k: 10,000 images, 1,000 per class, in file
order), zero-padded 28 -> 32 and stored once as gray uint8 (10000, 32, 32) in an .npy compressed
with xz (preset 9e). The manifest records the sha256 of the source file and of the decoded array:
the pixels are deterministic; the compressed bytes may differ only across liblzma versions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import sys
from pathlib import Path

import numpy as np

from bench.data.fashion import DEBIAN_DIR, EMBEDDED_FILE, EMBEDDED_MANIFEST, read_embedded_gray
from bench.data.idx import read_idx_uint8
from bench.data.imageops import pad_to

SOURCE_NAME = "t10k-images-idx3-ubyte.gz"
OUT_DIR = Path(__file__).resolve().parents[1] / "bench" / "assets" / "fashion10k"
XZ_PRESET = 9 | lzma.PRESET_EXTREME


def build_gray(source: Path) -> np.ndarray:
    """The padded gray array (10000, 32, 32) from the t10k IDX file."""
    gray = read_idx_uint8(source)
    if gray.shape != (10000, 28, 28):
        raise SystemExit(f"{source}: expected (10000, 28, 28), found {gray.shape}")
    return np.ascontiguousarray(pad_to(gray, 32))


def compress(gray: np.ndarray) -> bytes:
    """The .npy bytes of the array, xz-compressed."""
    buf = io.BytesIO()
    np.save(buf, gray, allow_pickle=False)
    return lzma.compress(buf.getvalue(), preset=XZ_PRESET)


def manifest(source: Path, gray: np.ndarray, blob: bytes) -> dict:
    """Provenance of the asset: source file and hashes of the pixels and of the stored bytes."""
    return {
        "dataset": "Fashion-MNIST (Zalando Research), MIT licence, see LICENSE-fashion-mnist.txt",
        "source_file": SOURCE_NAME,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "source_package": "Debian dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/)",
        "selection": "all 10,000 test images in file order (1,000 per class)",
        "preprocessing": "zero pad 2 px each side (28x28 -> 32x32), stored gray; RGB by replication on load",
        "shape": list(gray.shape),
        "dtype": "uint8",
        "pixels_sha256": hashlib.sha256(gray.tobytes()).hexdigest(),
        "stored_as": f"{EMBEDDED_FILE}: np.save bytes, xz preset 9e",
        "stored_bytes": len(blob),
        "built_by": "python scripts/build_embedded_dataset.py",
    }


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp name beside `path`, then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main() -> int:
    """Build (or check) the asset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_DIR / SOURCE_NAME, help="t10k images IDX (.gz)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="asset folder")
    parser.add_argument("--check", action="store_true", help="compare a rebuild with the stored asset")
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(f"{args.source} not found: run `apt-get install -y dataset-fashion-mnist` or pass --source")
    gray = build_gray(args.source)
    if args.check:
        stored = read_embedded_gray(args.out / EMBEDDED_FILE)
        same = stored.shape == gray.shape and np.array_equal(stored, gray)
        print("asset matches the rebuild" if same else "asset DIFFERS from the rebuild")
        return 0 if same else 1
    blob = compress(gray)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / EMBEDDED_FILE, blob)
    text = json.dumps(manifest(args.source, gray, blob), indent=2) + "\n"
    write_atomic(args.out / EMBEDDED_MANIFEST, text.encode())
    print(f"wrote {args.out / EMBEDDED_FILE} ({len(blob):,} bytes) and {EMBEDDED_MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
