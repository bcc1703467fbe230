"""Fashion-MNIST: the full train split (60,000) and the embedded 10,000-image default `fashion10k`.

28x28 gray becomes 32x32 by zero padding (2 px each side), not by resizing: the garments keep
their exact pixels (no interpolation blur) and the background is already 0, so the border is
seamless; 32 is the smallest size the 32 px models take. Gray is replicated into RGB.
"""

from __future__ import annotations

import io
import json
import lzma
from importlib import resources
from pathlib import Path

import numpy as np

from bench.core.errors import MissingDataError, UserError
from bench.data.download import (
    OFFLINE_ENV,
    download_into,
    downloads_dir,
    network_allows,
    offline_by_env,
)
from bench.data.folders import resolve_data_root
from bench.data.idx import read_idx_uint8
from bench.data.imageops import gray_to_rgb, pad_to
from bench.data.types import ArraySource

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian/Ubuntu package dataset-fashion-mnist
TRAIN_IMAGES = "train-images-idx3-ubyte"
PREPROCESSING_32 = {"pad": "zeros, 2 px each side (28 -> 32)", "color": "gray replicated to RGB", "resolution": 32}

EMBEDDED_FILE = "fashion10k.npy.xz"
EMBEDDED_MANIFEST = "fashion10k.json"


def _idx_file(folder: Path, stem: str) -> Path | None:
    """`stem.gz` or plain `stem` inside folder, whichever exists."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


class FashionMnist(ArraySource):
    """Fashion-MNIST's 60,000 training images, padded to 32x32 RGB."""

    resolution = 32

    def __init__(self, data_root: str | None, name: str = "fashion-mnist") -> None:
        """Remember where to look; nothing is read yet."""
        self.name = name
        self.data_root = resolve_data_root(data_root)
        self._file: Path | None = None

    def candidates(self) -> list[Path]:
        """Folders that may hold the IDX files: --data-root (plain or torchvision layout), Debian, cache."""
        found = []
        if self.data_root:
            r = self.data_root
            found += [r, r / "fashion-mnist", r / "FashionMNIST" / "raw"]
        found += [DEBIAN_DIR, downloads_dir() / "FashionMNIST" / "raw"]
        return found

    def find(self) -> Path | None:
        """The first train-images IDX file among the candidates, or None."""
        for folder in self.candidates():
            found = _idx_file(folder, TRAIN_IMAGES)
            if found:
                return found
        return None

    def locate(self) -> Path:
        """Folder of the train-images file; downloaded with torchvision when absent and online."""
        if self._file is None:
            self._file = self.find() or self._download()
        return self._file.parent

    def _download(self) -> Path:
        """Fetch the four IDX files with torchvision into the cache, or explain how to obtain them."""
        looked = ", ".join(str(c) for c in self.candidates())
        how = (
            "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put "
            f"{TRAIN_IMAGES}.gz into a DIR and pass --data-root DIR."
        )
        if offline_by_env():  # checked before importing torchvision, which takes seconds
            raise MissingDataError(f"Fashion-MNIST not found (looked in {looked}; ${OFFLINE_ENV} set). {how}")
        # start-up: torchvision takes seconds to import
        from torchvision.datasets import FashionMNIST

        mirror = FashionMNIST.mirrors[0]
        if not network_allows(mirror):
            raise MissingDataError(f"Fashion-MNIST not found (looked in {looked}) and {mirror} is unreachable. {how}")

        def fetch(tmp: Path) -> Path:
            """torchvision downloads, md5-checks and unpacks into tmp/FashionMNIST/raw."""
            FashionMNIST(root=str(tmp), train=True, download=True)
            return tmp / "FashionMNIST"

        download_into(downloads_dir() / "FashionMNIST", fetch)
        return _idx_file(downloads_dir() / "FashionMNIST" / "raw", TRAIN_IMAGES)

    def source_files(self) -> list[Path]:
        """The train-images IDX file (labels are not used)."""
        self.locate()
        return [self._file]

    def preprocessing(self) -> dict:
        """Zero pad 28 -> 32, gray replicated."""
        return {"dataset": "fashion-mnist", "split": "train", **PREPROCESSING_32}

    def describe(self) -> dict:
        """Source file and split."""
        self.locate()
        return {"source": str(self._file), "split": "train (60,000)"}

    def load_array(self) -> np.ndarray:
        """Decode the IDX images, pad, replicate to RGB."""
        gray = read_idx_uint8(self.source_files()[0])
        if gray.ndim != 3:
            raise UserError(f"{self._file} holds shape {gray.shape}, not (N, 28, 28) images")
        return gray_to_rgb(pad_to(gray, 32))


def embedded_dir() -> Path:
    """The package folder holding the embedded asset, its manifest and licence."""
    return Path(str(resources.files("bench") / "assets" / "fashion10k"))


def read_embedded_gray(path: Path) -> np.ndarray:
    """The embedded asset: an xz-compressed .npy of uint8 gray (10000, 32, 32)."""
    return np.load(io.BytesIO(lzma.decompress(path.read_bytes())), allow_pickle=False)


class Fashion10k(ArraySource):
    """The embedded default: Fashion-MNIST's 10,000 test images (1,000 per class), 32x32, in the package."""

    resolution = 32
    name = "fashion10k"

    def __init__(self, data_root: str | None = None) -> None:
        """Needs no root; the argument exists so every registry entry has the same signature."""
        self.folder = embedded_dir()

    def locate(self) -> Path:
        """The package's asset folder (MissingDataError only for a broken install)."""
        if not (self.folder / EMBEDDED_FILE).is_file():
            raise MissingDataError(
                f"the embedded dataset {self.folder / EMBEDDED_FILE} is missing: reinstall ladabench "
                "(`pip install -e .`) or rebuild it with scripts/build_embedded_dataset.py"
            )
        return self.folder

    def source_files(self) -> list[Path]:
        """The compressed asset."""
        return [self.locate() / EMBEDDED_FILE]

    def preprocessing(self) -> dict:
        """Padding was done when the asset was built; gray is replicated on load."""
        return {"dataset": "fashion-mnist", "split": "test (t10k)", **PREPROCESSING_32}

    def describe(self) -> dict:
        """Asset path, split and provenance from the manifest."""
        manifest = json.loads((self.locate() / EMBEDDED_MANIFEST).read_text())
        return {"source": str(self.source_files()[0]), "split": "test (t10k, 10,000)", "built_from": manifest}

    def load_array(self) -> np.ndarray:
        """Decompress and replicate gray to RGB."""
        gray = read_embedded_gray(self.source_files()[0])
        return gray_to_rgb(gray)
