"""CIFAR-10 (train split, 50,000 images at 32x32) from torchvision's pickle batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from bench.core.errors import MissingDataError, UserError
from bench.data.download import download_into, downloads_dir, network_allows
from bench.data.types import ArraySource

BATCHES_FOLDER = "cifar-10-batches-py"  # torchvision's layout: ROOT/cifar-10-batches-py/data_batch_1..5
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _torchvision_cifar10():
    """torchvision's CIFAR10 class, whose attributes name the official archive URL and checksum."""
    # start-up: torchvision takes seconds to import; only downloads need it
    from torchvision.datasets import CIFAR10

    return CIFAR10


class Cifar10(ArraySource):
    """CIFAR-10's 50,000 training images, native 32x32, no preprocessing."""

    resolution = 32

    def __init__(self, data_root: str | None, name: str = "cifar10") -> None:
        """Remember where to look; nothing is read yet."""
        self.name = name
        self.data_root = Path(data_root).expanduser() if data_root else None
        self._folder: Path | None = None

    def candidates(self) -> list[Path]:
        """Folders that may hold the batches, in order of preference."""
        found = []
        if self.data_root:
            found += [self.data_root / BATCHES_FOLDER, self.data_root]
        found.append(downloads_dir() / BATCHES_FOLDER)
        return found

    def find(self) -> Path | None:
        """The first candidate holding all five training batches, or None."""
        for folder in self.candidates():
            if all((folder / b).is_file() for b in TRAIN_BATCHES):
                return folder
        return None

    def locate(self) -> Path:
        """The batches folder; downloads into the cache (or --data-root) when absent and online."""
        if self._folder is None:
            self._folder = self.find() or self._download()
        return self._folder

    def _download(self) -> Path:
        """Fetch and extract the official archive with torchvision, or explain how to obtain it."""
        cls = _torchvision_cifar10()
        target = (self.data_root or downloads_dir()) / BATCHES_FOLDER
        looked = ", ".join(str(c) for c in self.candidates())
        if not network_allows(cls.url):
            raise MissingDataError(
                f"CIFAR-10 not found (looked in {looked}) and {cls.url} is unreachable. "
                f"Download and extract that archive elsewhere, copy its '{BATCHES_FOLDER}/' folder "
                f"into a DIR and pass --data-root DIR."
            )
        # start-up: torchvision takes seconds to import; only downloads need it
        from torchvision.datasets.utils import download_and_extract_archive

        def fetch(tmp: Path) -> Path:
            """Download + verify md5 + extract into `tmp`."""
            download_and_extract_archive(cls.url, str(tmp), filename=cls.filename, md5=cls.tgz_md5)
            return tmp / BATCHES_FOLDER

        return download_into(target, fetch)

    def source_files(self) -> list[Path]:
        """The five training batch files."""
        folder = self.locate()
        return [folder / b for b in TRAIN_BATCHES]

    def preprocessing(self) -> dict:
        """No resampling: the native 32x32 pixels, batches 1..5 in order."""
        return {"dataset": "cifar10", "split": "train", "resolution": 32, "ops": "none (native 32x32)"}

    def describe(self) -> dict:
        """Source folder and split."""
        return {"source": str(self.locate()), "split": "train (data_batch_1..5)"}

    def load_array(self) -> np.ndarray:
        """Unpickle the batches (numpy arrays and builtins only, see `_ArrayUnpickler`) into (N,32,32,3)."""
        parts = []
        for path in self.source_files():
            try:
                with open(path, "rb") as f:
                    batch = _ArrayUnpickler(f, encoding="latin1").load()
                data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            except Exception as exc:  # a damaged pickle can fail in many ways; all mean "re-download"
                raise UserError(
                    f"cannot read CIFAR-10 batch {path}: {exc}; delete {path.parent} and download again"
                ) from exc
            parts.append(data.transpose(0, 2, 3, 1))
        return np.ascontiguousarray(np.concatenate(parts))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler for CIFAR batch files that resolves only numpy's array classes.

    The batches are pickles, and a pickle can name any callable; a tampered download must not be
    able to run code, so every global other than numpy's array reconstruction is refused.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol-5 pickles of arrays (numpy >= 1.16)
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        """Resolve a global only when it is one of numpy's array classes."""
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch file")
