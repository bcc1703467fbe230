"""Small fake datasets written by the data tests: image folders, CelebA layout, IDX gzip, CIFAR pickles."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def solid(color: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    """A single-colour RGB image of size (width, height)."""
    return Image.new("RGB", size, color)


def write_pngs(folder: Path, colors: list[tuple[int, int, int]], size=(40, 40), prefix="img") -> list[Path]:
    """One solid-colour PNG per colour, named so that sorted order = list order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, color in enumerate(colors):
        path = folder / f"{prefix}{i:03d}.png"
        solid(color, size).save(path)
        paths.append(path)
    return paths


def three_band_image(width=60, height=40) -> Image.Image:
    """Red left band, green centred square, blue right band: a centred square crop sees only green."""
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    band = (width - height) // 2
    arr[:, :band] = (255, 0, 0)
    arr[:, band : band + height] = (0, 255, 0)
    arr[:, band + height :] = (0, 0, 255)
    return Image.fromarray(arr)


def write_corrupt(folder: Path) -> list[Path]:
    """A garbage .jpg and a truncated .png (both have image suffixes, neither decodes)."""
    folder.mkdir(parents=True, exist_ok=True)
    garbage = folder / "zz_garbage.jpg"
    garbage.write_bytes(b"this is not a jpeg at all" * 10)
    truncated = folder / "zz_truncated.png"
    full = folder / "tmp_full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(full)
    truncated.write_bytes(full.read_bytes()[:200])
    full.unlink()
    return [garbage, truncated]


def celeba_image(box=(19, 39, 159, 179)) -> Image.Image:
    """A 178x218 'aligned CelebA' frame: white inside `box`, black outside."""
    arr = np.zeros((218, 178, 3), dtype=np.uint8)
    left, top, right, bottom = box
    arr[top:bottom, left:right] = 255
    return Image.fromarray(arr)


def write_celeba(root: Path, count: int = 3, torchvision_layout: bool = False) -> Path:
    """`root/img_align_celeba/00000k.jpg` (or root/celeba/img_align_celeba/ for torchvision's layout)."""
    folder = root / "celeba" / "img_align_celeba" if torchvision_layout else root / "img_align_celeba"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        celeba_image().save(folder / f"{i:06d}.jpg", quality=95)
    return folder


def write_idx_gz(path: Path, images: np.ndarray) -> Path:
    """A gzip IDX file of uint8 images (N, H, W), as in (Fashion-)MNIST."""
    header = bytes([0, 0, 0x08, images.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + images.astype(np.uint8).tobytes())
    return path


def fake_fashion(n: int = 5) -> np.ndarray:
    """n distinct 28x28 gray images (a gradient plus the image index)."""
    base = np.arange(28 * 28, dtype=np.int64).reshape(28, 28) % 200
    return np.stack([(base + 10 * k) % 256 for k in range(n)]).astype(np.uint8)


def cifar_image(k: int) -> np.ndarray:
    """Image k as torchvision stores it: one row of 3072 bytes, R plane, then G, then B (each 32x32 row-major)."""
    ramp = (np.arange(1024) % 256).astype(np.uint8)
    return np.concatenate([ramp, np.full(1024, 100 + k, np.uint8), np.full(1024, k, np.uint8)])


def write_cifar(root: Path, per_batch: int = 2) -> Path:
    """`root/cifar-10-batches-py/data_batch_1..5` pickles in torchvision's batch layout."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    k = 0
    for b in range(1, 6):
        rows = []
        for _ in range(per_batch):
            rows.append(cifar_image(k))
            k += 1
        batch = {"batch_label": f"training batch {b} of 5", "data": np.stack(rows), "labels": [0] * per_batch}
        with open(folder / f"data_batch_{b}", "wb") as f:
            pickle.dump(batch, f)
    return folder
