"""The data layer's shared types: a source before preparation and the prepared, memory-mapped set."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class UnreadableImageError(Exception):
    """One image file could not be decoded (corrupt, truncated, wrong size); preparation may skip it."""


@dataclass
class PreparedDataset:
    """A dataset decoded once into the cache: uint8 RGB images (N, R, R, 3), memory-mapped."""

    name: str
    resolution: int
    count: int
    content_hash: str
    images: np.ndarray
    meta: dict = field(default_factory=dict)
    cache_path: Path = Path()

    def __len__(self) -> int:
        """Number of images."""
        return self.count


class Source(ABC):
    """A named dataset before preparation: where its files are and how they become images."""

    name: str
    resolution: int

    @abstractmethod
    def locate(self) -> Path:
        """The folder holding the source files; raises MissingDataError saying where it looked."""

    @abstractmethod
    def source_files(self) -> list[Path]:
        """Every file whose identity enters the content hash (images, archives or batch files)."""

    @abstractmethod
    def preprocessing(self) -> dict:
        """A JSON-able description of how files become (R, R, 3) images; it enters the content hash."""

    def describe(self) -> dict:
        """Where the data came from (source path, split) for the dataset's meta."""
        return {"source": str(self.locate()), "split": "all"}


class FileSource(Source):
    """A source with one image per file (image folders, CelebA); decoded file by file, in threads."""

    def source_files(self) -> list[Path]:
        """The image files, in a fixed (sorted) order."""
        return self.files()

    @abstractmethod
    def files(self) -> list[Path]:
        """The image files to decode, sorted so the image order never depends on the file system."""

    @abstractmethod
    def decode(self, path: Path) -> np.ndarray:
        """One file as uint8 (R, R, 3); raises UnreadableImageError when it cannot be read."""


class ArraySource(Source):
    """A source stored as a few archive files (IDX, CIFAR pickles, the embedded asset), read whole."""

    @abstractmethod
    def load_array(self) -> np.ndarray:
        """All images as uint8 (N, R, R, 3), already preprocessed."""
