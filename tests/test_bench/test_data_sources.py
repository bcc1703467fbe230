"""Every dataset loader on small data the tests write, plus missing-root and unknown-name errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datafakes import (
    cifar_image,
    fake_fashion,
    three_band_image,
    write_celeba,
    write_cifar,
    write_idx_gz,
    write_pngs,
)

from bench.core.errors import MissingDataError, UserError
from bench.data import DEFAULT_DATASET, load_dataset
from bench.data import fashion as fashion_module


@pytest.fixture(autouse=True)
def _own_cache_and_offline(tmp_path, monkeypatch):
    """A fresh cache per test, no downloads, and no Debian Fashion-MNIST unless a test wants it."""
    monkeypatch.setenv("LADABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LADABENCH_OFFLINE", "1")
    monkeypatch.delenv("LADABENCH_DATA", raising=False)
    monkeypatch.setattr(fashion_module, "DEBIAN_DIR", tmp_path / "no-debian-package")


def test_folder_keeps_exact_pixels_and_sorted_order(tmp_path):
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
    write_pngs(tmp_path / "imgs", colors, size=(40, 40))
    ds = load_dataset(f"folder:{tmp_path / 'imgs'}@40")
    assert ds.count == 4 and ds.resolution == 40
    assert ds.images.dtype == np.uint8 and ds.images.shape == (4, 40, 40, 3)
    # PNG is lossless and 40 px needs no resize: every pixel is the colour written, in file order.
    for k, color in enumerate(colors):
        assert (ds.images[k] == np.array(color, np.uint8)).all()
    assert isinstance(ds.images, np.memmap) and not ds.images.flags.writeable


def test_folder_takes_centred_square_and_default_resolution(tmp_path):
    (tmp_path / "wide").mkdir()
    three_band_image(60, 40).save(tmp_path / "wide" / "a.png")
    ds = load_dataset(f"folder:{tmp_path / 'wide'}")
    assert ds.resolution == 64  # the documented default for folder:PATH
    # The centred 40x40 square is pure green; red and blue bands must be cropped away.
    img = ds.images[0].astype(int)
    assert img[..., 1].min() >= 250 and img[..., 0].max() <= 5 and img[..., 2].max() <= 5


def test_grayscale_files_are_replicated_to_rgb(tmp_path):
    from PIL import Image

    (tmp_path / "g").mkdir()
    Image.fromarray((np.arange(32 * 32).reshape(32, 32) % 251).astype(np.uint8)).save(tmp_path / "g" / "x.png")
    ds = load_dataset(f"folder:{tmp_path / 'g'}@32")
    img = ds.images[0]
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert (img[..., 0] == np.arange(32 * 32).reshape(32, 32) % 251).all()


@pytest.mark.parametrize("torchvision_layout", [False, True])
def test_celeba64_default_box_in_both_layouts(tmp_path, torchvision_layout):
    write_celeba(tmp_path, count=3, torchvision_layout=torchvision_layout)
    ds = load_dataset("celeba64", data_root=str(tmp_path))
    assert ds.count == 3 and ds.images.shape == (3, 64, 64, 3)
    assert ds.meta["preprocessing"]["crop_box_ltrb"] == [19, 39, 159, 179]
    # The fake frames are white exactly inside the default box: the crop must contain no black border.
    assert ds.images.min() >= 200 and ds.images.mean() > 250


def test_celeba64_custom_crop_box_is_used(tmp_path):
    write_celeba(tmp_path, count=2)
    ds = load_dataset("celeba64:crop=0,0,178,178", data_root=str(tmp_path))
    assert ds.meta["preprocessing"]["crop_box_ltrb"] == [0, 0, 178, 178]
    # This box includes the black margin left/top of the white area.
    assert ds.images[:, :5, :5].max() < 40
    assert ds.images.mean() < 200


def test_ffhq_and_lsun_folders_at_their_resolutions(tmp_path):
    write_pngs(tmp_path / "ffhq" / "00000", [(200, 10, 10), (10, 200, 10)], size=(256, 256))
    write_pngs(tmp_path / "ffhq" / "01000", [(10, 10, 200)], size=(256, 256))
    ffhq = load_dataset("ffhq128", data_root=str(tmp_path))
    assert ffhq.images.shape == (3, 128, 128, 3)
    # Sorted by relative path across the nested folders; resizing keeps a solid colour.
    assert tuple(ffhq.images[2, 64, 64]) == (10, 10, 200)
    write_pngs(tmp_path / "lsun-bedroom", [(50, 60, 70)], size=(300, 256))
    # LSUN's own export writes .webp files.
    three_band_image(340, 256).save(tmp_path / "lsun-bedroom" / "zz.webp", lossless=True)
    bedroom = load_dataset("bedroom256", data_root=str(tmp_path))  # the preset-name alias
    assert bedroom.name == "lsun-bedroom256" and bedroom.images.shape == (2, 256, 256, 3)
    assert tuple(bedroom.images[0, 0, 0]) == (50, 60, 70)
    assert tuple(bedroom.images[1, 128, 0]) == (0, 255, 0) and tuple(bedroom.images[1, 128, 255]) == (0, 255, 0)


def test_fashion_mnist_from_idx_gzip_is_zero_padded(tmp_path):
    gray = fake_fashion(5)
    write_idx_gz(tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz", gray)  # torchvision layout
    ds = load_dataset("fashion-mnist", data_root=str(tmp_path))
    assert ds.images.shape == (5, 32, 32, 3)
    assert (ds.images[:, 2:30, 2:30, 0] == gray).all()  # padded, not resized: exact pixels
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert (ds.images[:, border] == 0).all()
    assert (ds.images[..., 0] == ds.images[..., 2]).all()


def test_fashion_mnist_missing_says_where_and_how(tmp_path):
    with pytest.raises(MissingDataError) as info:
        load_dataset("fashion-mnist", data_root=str(tmp_path / "empty"))
    msg = str(info.value)
    assert str(tmp_path / "empty") in msg and "no-debian-package" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-root" in msg


def test_cifar10_reads_torchvision_pickle_batches(tmp_path):
    write_cifar(tmp_path, per_batch=2)
    ds = load_dataset("cifar10", data_root=str(tmp_path))
    assert ds.images.shape == (10, 32, 32, 3)
    ramp = (np.arange(1024) % 256).reshape(32, 32)
    for k in range(10):
        # Planes R, G, B become the last axis; rows stay rows.
        assert (ds.images[k, :, :, 0] == ramp).all()
        assert (ds.images[k, :, :, 1] == 100 + k).all() and (ds.images[k, :, :, 2] == k).all()
    assert cifar_image(0).shape == (3072,)


def test_cifar10_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    import time

    monkeypatch.delenv("LADABENCH_OFFLINE")
    # No route to the internet: the real probe must fail quickly instead of hanging.
    monkeypatch.setattr("bench.data.download.PROBE_TIMEOUT_S", 2.0)
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    import torchvision.datasets  # noqa: F401  (its import takes seconds on a busy machine; not what is timed)

    start = time.perf_counter()
    with pytest.raises(MissingDataError) as info:
        load_dataset("cifar10", data_root=str(tmp_path / "nothing"))
    assert time.perf_counter() - start < 5
    msg = str(info.value)
    assert "cifar-10-batches-py" in msg and str(tmp_path / "nothing") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg


def test_cifar10_damaged_batch_is_a_user_error(tmp_path):
    folder = write_cifar(tmp_path, per_batch=1)
    (folder / "data_batch_3").write_bytes(b"\x80\x04garbage")
    with pytest.raises(UserError, match="data_batch_3"):
        load_dataset("cifar10", data_root=str(tmp_path))


@pytest.mark.parametrize("name", ["celeba64", "ffhq256", "lsun-bedroom128"])
def test_missing_root_says_where_it_looked_and_how_to_obtain(tmp_path, name):
    with pytest.raises(MissingDataError) as info:
        load_dataset(name, data_root=str(tmp_path / "nowhere"))
    msg = str(info.value)
    assert str(tmp_path / "nowhere") in msg and "--data-root" in msg and "http" in msg
    with pytest.raises(MissingDataError, match="no --data-root given"):
        load_dataset(name)


def test_data_root_env_is_the_default_root(tmp_path, monkeypatch):
    write_celeba(tmp_path, count=1)
    monkeypatch.setenv("LADABENCH_DATA", str(tmp_path))
    assert load_dataset("celeba64").count == 1


def test_unknown_name_lists_known_ones():
    with pytest.raises(UserError) as info:
        load_dataset("celba64")
    msg = str(info.value)
    assert "'celba64' is unknown" in msg and "did you mean 'celeba64'" in msg
    for known in ("fashion10k", "cifar10", "ffhq256", "lsun-bedroom256", "folder:PATH"):
        assert known in msg


def test_bad_options_and_folder_specs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="crop box"):
        load_dataset("celeba64:crop=0,0,500,500", data_root=str(tmp_path))
    with pytest.raises(UserError, match="not understood"):
        load_dataset("cifar10:crop=1,2,3,4")
    with pytest.raises(UserError, match="out of range"):
        load_dataset(f"folder:{tmp_path}@4")


def test_embedded_default_is_real_fashion_mnist():
    ds = load_dataset(DEFAULT_DATASET)
    assert DEFAULT_DATASET == "fashion10k"
    assert ds.count == 10_000 and ds.images.shape == (10_000, 32, 32, 3)
    assert (ds.images[:, :2] == 0).all() and (ds.images[:, :, -2:] == 0).all()  # the padding
    assert (ds.images[..., 0] == ds.images[..., 1]).all()
    # Real garments, not noise or blanks: mean brightness in Fashion-MNIST's range and many distinct images.
    assert 50 < ds.images[:, 2:30, 2:30].mean() < 100
    assert len({ds.images[i].tobytes() for i in range(0, 10_000, 100)}) == 100
    assert ds.meta["built_from"]["pixels_sha256"]
    assert load_dataset(DEFAULT_DATASET).content_hash == ds.content_hash


def test_embedded_asset_matches_its_manifest():
    import hashlib
    import json

    from bench.data.fashion import (
        EMBEDDED_FILE,
        EMBEDDED_MANIFEST,
        embedded_dir,
        read_embedded_gray,
    )

    manifest = json.loads((embedded_dir() / EMBEDDED_MANIFEST).read_text())
    gray = read_embedded_gray(embedded_dir() / EMBEDDED_FILE)
    assert hashlib.sha256(gray.tobytes()).hexdigest() == manifest["pixels_sha256"]
    assert (embedded_dir() / "LICENSE-fashion-mnist.txt").read_text().count("MIT License") == 1
    assert (embedded_dir() / EMBEDDED_FILE).stat().st_size < 5 * 2**20


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_build_script_rebuilds_the_embedded_asset_exactly():
    import importlib.util

    from bench.data.fashion import EMBEDDED_FILE, embedded_dir, read_embedded_gray

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_embedded_dataset.py"
    spec = importlib.util.spec_from_file_location("build_embedded_dataset", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.build_gray(Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))
    assert np.array_equal(rebuilt, read_embedded_gray(embedded_dir() / EMBEDDED_FILE))


def test_cifar10_batch_carrying_code_is_refused_and_never_runs(tmp_path):
    # A tampered batch file whose unpickling would run a command must fail before the command runs.
    folder = write_cifar(tmp_path, per_batch=2)
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    import pickle

    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({"data": Payload(), "labels": [0]}, f)
    with pytest.raises(UserError, match="refusing to load"):
        load_dataset("cifar10", data_root=str(tmp_path))
    assert not marker.exists()
