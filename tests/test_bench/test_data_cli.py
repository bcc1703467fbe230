"""`ladabench data prepare/info/list` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest
from datafakes import write_celeba
from PIL import Image

from bench.cli import main
from bench.data import fashion as fashion_module


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A fresh cache per test and no downloads."""
    monkeypatch.setenv("LADABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LADABENCH_OFFLINE", "1")
    monkeypatch.delenv("LADABENCH_DATA", raising=False)


def test_prepare_celeba64_from_a_celeba_layout_folder(tmp_path, capsys):
    write_celeba(tmp_path / "data", count=4, torchvision_layout=True)
    assert main(["data", "prepare", "celeba64", "--data-root", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "prepared celeba64" in out and "64x64 RGB uint8" in out and "[19, 39, 159, 179]" in out
    cached = list((tmp_path / "cache" / "datasets").glob("celeba64-64px-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["count"] == 4


def test_info_prints_figures_and_writes_the_grid(tmp_path, capsys):
    write_celeba(tmp_path / "data", count=5)
    grid = tmp_path / "out" / "grid.png"
    assert main(["data", "info", "celeba64", "--data-root", str(tmp_path / "data"), "--grid", str(grid)]) == 0
    out = capsys.readouterr().out
    meta = json.loads(next((tmp_path / "cache" / "datasets").glob("celeba64-*.json")).read_text())
    assert meta["content_hash"][:40] in out.replace("\n", "").replace("│", "").replace(" ", "")
    assert "images" in out and "5" in out and "sample grid" in out
    with Image.open(grid) as im:  # 5 images -> 3x2 cells of 64 px + 2 px padding
        assert im.size == (3 * 66 + 2, 2 * 66 + 2)


def test_info_default_grid_lands_beside_the_cache(tmp_path, capsys):
    assert main(["data", "info", "fashion10k", "--speed"]) == 0
    out = capsys.readouterr().out
    assert "10,000" in out and "32x32" in out and "img/s" in out
    grids = list((tmp_path / "cache" / "datasets").glob("fashion10k-*.grid.png"))
    assert len(grids) == 1
    with Image.open(grids[0]) as im:  # 8x8 cells of 34 px + 2, upscaled x2 for visibility
        assert im.size == (2 * (8 * 34 + 2),) * 2


@pytest.mark.skipif(not fashion_module.DEBIAN_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_info_fashion_mnist_from_the_debian_package(capsys):
    assert main(["data", "info", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "60,000" in out and "/usr/share/datasets/fashion-mnist" in out


def test_unknown_dataset_exits_2_listing_known_ones(capsys):
    assert main(["data", "info", "nosuchdata"]) == 2
    err = capsys.readouterr().err
    assert "'nosuchdata' is unknown" in err and "celeba64" in err and "fashion10k" in err


def test_missing_dataset_exits_3_saying_where_it_looked(tmp_path, capsys):
    assert main(["data", "prepare", "ffhq256", "--data-root", str(tmp_path / "empty")]) == 3
    err = capsys.readouterr().err.replace("\n", " ")
    assert str(tmp_path / "empty") in err and "ffhq" in err.lower()


def test_strict_flag_reaches_preparation(tmp_path, capsys):
    folder = write_celeba(tmp_path / "data", count=2)
    (folder / "000003.jpg").write_bytes(b"broken")
    assert main(["data", "prepare", "celeba64", "--data-root", str(tmp_path / "data"), "--strict"]) == 2
    assert "000003.jpg" in capsys.readouterr().err
    assert main(["data", "prepare", "celeba64", "--data-root", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    assert "1 unreadable image file(s) skipped" in captured.err.replace("\n", " ")


def test_list_shows_every_dataset_and_the_doctor_rows(tmp_path, capsys):
    write_celeba(tmp_path / "data", count=1)
    assert main(["data", "list", "--data-root", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    for name in ("fashion10k", "fashion-mnist", "cifar10", "celeba64", "ffhq128", "lsun-bedroom256"):
        assert name in out
    from bench.data.registry import status_rows

    rows = {name: (found, detail) for name, found, detail in status_rows(str(tmp_path / "data"))}
    assert rows["celeba64"][0] and rows["fashion10k"][0]
    assert not rows["cifar10"][0] and "downloads on first use" in rows["cifar10"][1]
    assert not rows["ffhq256"][0] and str(tmp_path / "data") in rows["ffhq256"][1]


def test_info_without_a_name_shows_the_embedded_default(capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "dataset fashion10k" in out and "10,000" in out
