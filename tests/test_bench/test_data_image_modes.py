"""Decoding keeps the tonal range of 16-bit, palette, LA and RGBA images (`decode_rgb`)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.imageops import decode_rgb

SIZE = 16


def _png16(path: Path, pixels: np.ndarray, color_type: int) -> None:
    """A 16-bit PNG written by hand (PIL cannot write 16-bit RGB): gray (type 0) or RGB (type 2)."""
    height, width = pixels.shape[:2]
    rows = pixels.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        """One PNG chunk: length, type, data, CRC."""
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _ramp16() -> np.ndarray:
    """A 16x16 ramp over the whole 16-bit range (0 .. 65535)."""
    return np.linspace(0, 65535, SIZE * SIZE).round().astype(np.uint16).reshape(SIZE, SIZE)


def test_16_bit_gray_is_scaled_not_clipped(tmp_path):
    ramp = _ramp16()
    _png16(tmp_path / "g16.png", ramp, color_type=0)
    out = decode_rgb(tmp_path / "g16.png", SIZE)
    expected = (ramp.astype(np.int64) * 255 + 32767) // 65535  # round(v * 255 / 65535) in integers
    assert np.array_equal(out[..., 0], expected) and np.array_equal(out[..., 1], out[..., 2])
    assert (out == 255).mean() < 0.01  # clipping made 99.6% of a ramp white


def test_16_bit_rgb_keeps_each_channel_within_one_level(tmp_path):
    ramp = _ramp16()
    pixels = np.stack([ramp, ramp[::-1], ramp.T], axis=-1)
    _png16(tmp_path / "rgb16.png", pixels, color_type=2)
    out = decode_rgb(tmp_path / "rgb16.png", SIZE).astype(np.int64)
    assert np.abs(out - pixels.astype(np.int64) / 257.0).max() <= 1.0


def test_palette_la_and_rgba_give_the_colours_they_show(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "rgba.png")
    assert np.array_equal(decode_rgb(tmp_path / "rgba.png", SIZE), rgb)  # alpha dropped, colours exact

    gray = rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(tmp_path / "la.png")
    assert np.array_equal(decode_rgb(tmp_path / "la.png", SIZE), np.repeat(gray[..., None], 3, axis=-1))

    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    index = rng.integers(0, 4, (SIZE, SIZE), dtype=np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette(palette.reshape(-1).tolist())
    image.save(tmp_path / "p.png")
    assert np.array_equal(decode_rgb(tmp_path / "p.png", SIZE), palette[index])
