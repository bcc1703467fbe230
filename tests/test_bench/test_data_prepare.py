"""Preparation: the cache is reused, atomic on failure, corrupt files counted/skipped or fatal, hashes track inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from datafakes import write_celeba, write_corrupt, write_pngs

from bench.core.errors import UserError
from bench.data import hashing, load_dataset
from bench.data import prepare as prepare_module
from bench.data.folders import ImageFolderSource
from bench.data.grid import sample_grid
from bench.data.loader import random_batches, to_float_tensor

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A fresh, empty cache per test."""
    monkeypatch.setenv("LADABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LADABENCH_OFFLINE", "1")


def cache_files(tmp_path) -> list[str]:
    """Every file (hidden ones too) in the dataset cache."""
    folder = tmp_path / "cache" / "datasets"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_corrupt_files_are_counted_skipped_and_reported(tmp_path, capsys):
    write_pngs(tmp_path / "imgs", COLORS)
    write_corrupt(tmp_path / "imgs")
    ds = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert ds.count == 3 and ds.images.shape == (3, 40, 40, 3)
    assert ds.meta["skipped_count"] == 2
    assert sorted(ds.meta["skipped"]) == ["zz_garbage.jpg", "zz_truncated.png"]
    assert "2 unreadable image file(s) skipped" in capsys.readouterr().err
    # The good images are intact and in order after the file was shrunk.
    for k, color in enumerate(COLORS):
        assert (ds.images[k] == np.array(color, np.uint8)).all()


def test_strict_makes_a_corrupt_file_an_error_and_leaves_no_cache(tmp_path):
    write_pngs(tmp_path / "imgs", COLORS)
    write_corrupt(tmp_path / "imgs")
    with pytest.raises(UserError, match="zz_garbage.jpg.*drop --strict"):
        load_dataset(f"folder:{tmp_path / 'imgs'}@40", strict=True)
    assert cache_files(tmp_path) == []


def test_a_crash_mid_decode_leaves_nothing_half_written(tmp_path, monkeypatch):
    write_pngs(tmp_path / "imgs", COLORS * 3)
    calls = {"n": 0}
    real_decode = ImageFolderSource.decode

    def crash_on_fifth(self, path):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk vanished (test)")
        return real_decode(self, path)

    monkeypatch.setattr(ImageFolderSource, "decode", crash_on_fifth)
    with pytest.raises(RuntimeError, match="disk vanished"):
        load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert cache_files(tmp_path) == []
    monkeypatch.setattr(ImageFolderSource, "decode", real_decode)
    assert load_dataset(f"folder:{tmp_path / 'imgs'}@40").count == 9


def test_all_files_unreadable_is_a_user_error(tmp_path):
    write_corrupt(tmp_path / "bad")
    with pytest.raises(UserError, match="none of the 2 files"):
        load_dataset(f"folder:{tmp_path / 'bad'}@32")
    assert cache_files(tmp_path) == []


def test_second_load_reuses_the_cache_without_decoding(tmp_path, monkeypatch):
    write_pngs(tmp_path / "imgs", COLORS)
    first = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert sorted(p for p in cache_files(tmp_path) if not p.startswith(".")) == sorted(
        [first.cache_path.name, first.cache_path.with_suffix(".json").name]
    )
    assert not [p for p in cache_files(tmp_path) if p.startswith(".")]  # no temp files left

    def no_decoding(self, path):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(ImageFolderSource, "decode", no_decoding)
    again = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert again.cache_path == first.cache_path and np.array_equal(again.images, first.images)


def test_hash_changes_with_preprocessing_and_files_not_with_location(tmp_path):
    write_celeba(tmp_path / "a", count=2)
    default = load_dataset("celeba64", data_root=str(tmp_path / "a"))
    other_box = load_dataset("celeba64:crop=25,57,153,185", data_root=str(tmp_path / "a"))
    assert default.content_hash != other_box.content_hash
    assert default.cache_path != other_box.cache_path
    # Same bytes elsewhere (content mode for small sources): same hash, so metric caches are shared.
    write_celeba(tmp_path / "b", count=2)
    assert load_dataset("celeba64", data_root=str(tmp_path / "b")).content_hash == default.content_hash

    write_pngs(tmp_path / "imgs", COLORS)
    at32 = load_dataset(f"folder:{tmp_path / 'imgs'}@32").content_hash
    at64 = load_dataset(f"folder:{tmp_path / 'imgs'}@64").content_hash
    assert at32 != at64
    write_pngs(tmp_path / "imgs", [(1, 2, 3)], prefix="img001")  # one more file
    assert load_dataset(f"folder:{tmp_path / 'imgs'}@32").content_hash != at32


def test_big_sources_hash_by_stat_without_reading_bytes(tmp_path, monkeypatch):
    paths = write_pngs(tmp_path / "imgs", COLORS)
    monkeypatch.setattr(hashing, "CONTENT_HASH_MAX_BYTES", 0)

    def no_reading(path):
        raise AssertionError("stat mode must not read file contents")

    monkeypatch.setattr(hashing, "_file_sha256", no_reading)
    first = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert first.meta["hash_mode"] == "stat"
    st = paths[0].stat()
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # "edited" one second later
    assert load_dataset(f"folder:{tmp_path / 'imgs'}@40").content_hash != first.content_hash


def test_small_sources_hash_by_content(tmp_path):
    paths = write_pngs(tmp_path / "imgs", COLORS)
    first = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert first.meta["hash_mode"] == "content"
    st = paths[0].stat()
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, bytes unchanged
    assert load_dataset(f"folder:{tmp_path / 'imgs'}@40").content_hash == first.content_hash
    write_pngs(tmp_path / "imgs", [(9, 9, 9)])  # img000.png now holds other pixels
    assert load_dataset(f"folder:{tmp_path / 'imgs'}@40").content_hash != first.content_hash


def test_meta_records_source_preprocessing_and_rate(tmp_path):
    write_celeba(tmp_path, count=2)
    ds = load_dataset("celeba64", data_root=str(tmp_path))
    assert ds.meta["source"] == str(tmp_path / "img_align_celeba")
    assert ds.meta["preprocessing"]["resize"] == "PIL.Image.LANCZOS"
    assert ds.meta["prepare_img_per_sec"] > 0 and ds.meta["count"] == 2
    assert prepare_module.cache_paths  # the cache lives under LADABENCH_CACHE
    assert str(ds.cache_path).startswith(str(tmp_path / "cache"))


def test_loader_maps_uint8_to_minus_one_one_channels_first():
    images = np.zeros((10, 4, 4, 3), np.uint8)
    images[:, :, :, 0] = 255
    images[:, 0, 1, 2] = 51
    x = to_float_tensor(images[:3])
    assert x.shape == (3, 3, 4, 4) and x.dtype == torch.float32 and x.is_contiguous()
    assert (x[:, 0] == 1).all() and (x[:, 1] == -1).all()
    assert abs(float(x[0, 2, 0, 1]) - (51 / 127.5 - 1)) < 1e-6


def test_random_batches_are_seeded_and_sized():
    images = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1).repeat(3, axis=3)
    a, b = random_batches(images, 8, seed=3), random_batches(images, 8, seed=3)
    first_a, first_b = next(a), next(b)
    assert first_a.shape == (8, 1, 1, 3) and np.array_equal(first_a, first_b)
    assert len(np.unique(first_a[:, 0, 0, 0])) == 8  # no repeats inside a batch
    assert not np.array_equal(next(a), first_a)


def test_sample_grid_tiles_the_chosen_images():
    images = np.stack([np.full((4, 4, 3), 10 * k, np.uint8) for k in range(9)])
    grid = sample_grid(images, count=9, seed=0, pad_px=1)
    assert grid.shape == (3 * 5 + 1, 3 * 5 + 1, 3)
    # All nine images, one per cell, in index order (count == N selects everything).
    cells = [int(grid[1 + 5 * (k // 3), 1 + 5 * (k % 3), 0]) for k in range(9)]
    assert cells == [10 * k for k in range(9)]
