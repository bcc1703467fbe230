"""Image decoding and geometry shared by the file-based sources (crop, antialiased resize, RGB)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.types import UnreadableImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm")
# Lanczos is what PIL offers as its sharpest antialiased downscaling filter (PIL filters the
# whole support when shrinking, so there is no aliasing); recorded in every dataset's meta.
RESIZE_FILTER = "PIL.Image.LANCZOS"

Box = tuple[int, int, int, int]


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder` (recursively, by suffix), sorted by relative path.

    Works on strings, not pathlib, while walking: for CelebA's 202,599 files pathlib's parsing
    alone took seconds on every call.
    """
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for filename in filenames:
            if filename.lower().endswith(IMAGE_SUFFIXES) and not filename.startswith("."):
                entries.append((prefix + filename, os.path.join(dirpath, filename)))
    entries.sort()
    return [Path(full) for _rel, full in entries]


def has_images(folder: Path) -> bool:
    """True when `folder` exists and holds at least one image file (stops at the first one)."""
    if not folder.is_dir():
        return False
    for _dirpath, _dirnames, filenames in os.walk(folder):
        if any(f.lower().endswith(IMAGE_SUFFIXES) for f in filenames):
            return True
    return False


def center_square_box(width: int, height: int) -> Box:
    """The largest centred square inside a width x height image, as (left, top, right, bottom)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def decode_rgb(path: Path, resolution: int, box: Box | None = None) -> np.ndarray:
    """Decode one file to uint8 (resolution, resolution, 3): crop `box` (default: centred square), resize.

    Gray and palette images become RGB by replication; an alpha channel is dropped; 16-bit gray is
    scaled to 8 bits (see `to_rgb`).
    """
    try:
        with Image.open(path) as im:
            im.load()
            rgb = to_rgb(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImageError(f"{path}: {exc}") from exc
    width, height = rgb.size
    box = box or center_square_box(width, height)
    left, top, right, bottom = box
    if left < 0 or top < 0 or right > width or bottom > height:
        # A fixed box (CelebA) outside the image would silently pad with black: refuse instead.
        raise UnreadableImageError(f"{path}: crop box {box} lies outside the {width}x{height} image")
    if box != (0, 0, width, height):
        rgb = rgb.crop(box)
    if rgb.size != (resolution, resolution):
        rgb = rgb.resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


SIXTEEN_BIT_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # how PIL opens 16-bit gray PNG/TIFF


def to_rgb(im: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of a decoded image, keeping its full tonal range.

    PIL's `convert("RGB")` clips 16-bit gray (0..65535) at 255, so nearly every pixel turns white;
    here it is scaled by 255/65535 and rounded. 16-bit RGB(A) PNGs are already reduced to 8 bits
    by PIL when decoded (high byte); palette, LA and RGBA go through PIL (alpha dropped).
    """
    if im.mode in SIXTEEN_BIT_GRAY_MODES:
        values = np.asarray(im, dtype=np.float64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{im.mode} image with values outside 0..65535 (not a 16-bit image)")
        gray = np.rint(values * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    return im.convert("RGB")


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """Replicate uint8 gray images (N, H, W) into RGB (N, H, W, 3)."""
    return np.repeat(gray[..., None], 3, axis=-1)


def pad_to(gray: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad gray images (N, H, W) symmetrically to (N, size, size); Fashion-MNIST's background is 0."""
    n, h, w = gray.shape
    top, left = (size - h) // 2, (size - w) // 2
    return np.pad(gray, ((0, 0), (top, size - h - top), (left, size - w - left)))
