"""Image-folder datasets: FFHQ and LSUN bedroom at 128/256, and `folder:PATH[@RES]` for any folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.core.errors import MissingDataError, UserError
from bench.data.imageops import RESIZE_FILTER, decode_rgb, has_images, list_images
from bench.data.types import FileSource

DATA_ROOT_ENV = "LADABENCH_DATA"


def resolve_data_root(data_root: str | None) -> Path | None:
    """`--data-root`, else `$LADABENCH_DATA`, else None."""
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() if root else None


def root_candidates(root: Path | None, subdirs: list[str]) -> list[Path]:
    """ROOT/<subdir> for each subdir, then ROOT itself when it is named like one of them.

    ROOT itself is accepted only by name: a shared data root holding other datasets must never be
    mistaken for this one.
    """
    if root is None:
        return []
    names = {Path(s).name for s in subdirs}
    return [root / s for s in subdirs] + ([root] if root.name in names else [])


class ImageFolderSource(FileSource):
    """Every image under one folder: centred square crop, antialiased Lanczos resize to R x R."""

    def __init__(self, name: str, resolution: int, candidates: list[Path], how_to_obtain: str) -> None:
        """`candidates`: folders to try in order; `how_to_obtain`: the fix shown when none has images."""
        self.name = name
        self.resolution = resolution
        self.candidates = candidates
        self.how_to_obtain = how_to_obtain
        self._folder: Path | None = None
        self._files: list[Path] | None = None

    def locate(self) -> Path:
        """The first candidate folder holding images; MissingDataError listing all candidates if none."""
        if self._folder is None:
            for folder in self.candidates:
                if has_images(folder):
                    self._folder = folder
                    break
            else:
                looked = (
                    ", ".join(str(c) for c in self.candidates)
                    or "nowhere: no --data-root given and $LADABENCH_DATA unset"
                )
                raise MissingDataError(f"{self.name}: no images found (looked in {looked}). {self.how_to_obtain}")
        return self._folder

    def files(self) -> list[Path]:
        """All image files under the folder, sorted by relative path (listed once per instance)."""
        if self._files is None:
            self._files = list_images(self.locate())
        return self._files

    def preprocessing(self) -> dict:
        """Centred square crop of each image, then antialiased resize."""
        return {"crop": "centred square (per image)", "resize": RESIZE_FILTER, "resolution": self.resolution}

    def describe(self) -> dict:
        """Source folder and split (the whole folder)."""
        return {"source": str(self.locate()), "split": "all files"}

    def decode(self, path: Path) -> np.ndarray:
        """One image file, cropped and resized."""
        return decode_rgb(path, self.resolution)


def _known_folder(name: str, data_root: str | None, resolution: int, subdirs: list[str], how: str) -> ImageFolderSource:
    """A named dataset kept as a folder of images in one of `subdirs` of the data root."""
    return ImageFolderSource(
        f"{name}{resolution}", resolution, root_candidates(resolve_data_root(data_root), subdirs), how
    )


def ffhq(data_root: str | None, resolution: int) -> ImageFolderSource:
    """FFHQ from a folder of the official PNGs (1024x1024 or the 128x128 thumbnails)."""
    return _known_folder(
        "ffhq",
        data_root,
        resolution,
        ["ffhq", "FFHQ", "images1024x1024", "ffhq/images1024x1024", "thumbnails128x128"],
        "Download FFHQ (https://github.com/NVlabs/ffhq-dataset: images1024x1024/ or, for 128 px, "
        "thumbnails128x128/) into DIR/ffhq/ and pass --data-root DIR (or set $LADABENCH_DATA).",
    )


def lsun_bedroom(data_root: str | None, resolution: int) -> ImageFolderSource:
    """LSUN bedroom from a folder of images exported from the official LMDB."""
    return _known_folder(
        "lsun-bedroom",
        data_root,
        resolution,
        ["lsun-bedroom", "lsun_bedroom", "bedroom", "bedroom_train", "lsun/bedroom"],
        "Download bedroom_train_lmdb (https://github.com/fyu/lsun), export it to image files "
        "(its `python data.py export bedroom_train_lmdb --out_dir DIR/lsun-bedroom --flat`), "
        "and pass --data-root DIR (or set $LADABENCH_DATA).",
    )


def parse_folder_spec(spec: str, default_resolution: int = 64) -> tuple[Path, int]:
    """Split 'PATH[@RES]' (the part after 'folder:') into a path and a resolution."""
    path, resolution = spec, default_resolution
    head, sep, tail = spec.rpartition("@")
    if sep and tail.isdigit():
        path, resolution = head, int(tail)
    elif sep and not Path(spec).expanduser().exists():  # a folder whose name holds '@' is still taken as it is
        raise UserError(
            f"resolution '{tail}' in 'folder:{spec}' is not a whole number; use folder:{head}@64 (8..2048 px)"
        )
    if not path:
        raise UserError("dataset 'folder:' needs a path: use folder:PATH or folder:PATH@RES (e.g. folder:./imgs@64)")
    if not 8 <= resolution <= 2048:
        raise UserError(f"resolution {resolution} in 'folder:{spec}' is out of range; use 8..2048")
    return Path(path).expanduser(), resolution


def image_folder(spec: str) -> ImageFolderSource:
    """`folder:PATH[@RES]`: any folder of images (default 64 px)."""
    path, resolution = parse_folder_spec(spec)
    how = "Pass an existing folder that contains image files (jpg, png, webp, ...), e.g. folder:./imgs@64."
    return ImageFolderSource(f"folder:{path}@{resolution}", resolution, [path], how)
