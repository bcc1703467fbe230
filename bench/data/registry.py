"""The named datasets: one entry per name, a parser for `folder:PATH@RES` and `NAME:key=value`."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import MissingDataError, UserError
from bench.data.celeba import CelebA64, parse_box
from bench.data.cifar import Cifar10
from bench.data.fashion import Fashion10k, FashionMnist
from bench.data.folders import ffhq, image_folder, lsun_bedroom
from bench.data.types import Source

FOLDER_PREFIX = "folder:"


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its name, a one-line summary and how to build its source."""

    name: str
    summary: str
    make: Callable[..., Source]  # make(data_root, **options) -> Source
    options: tuple[str, ...] = ()  # keys accepted as NAME:key=value


def _celeba64(data_root: str | None, crop: str | None = None) -> Source:
    """CelebA-64 with the default or a user-given crop box."""
    return CelebA64(data_root) if crop is None else CelebA64(data_root, parse_box(crop))


ENTRIES: dict[str, DatasetEntry] = {
    e.name: e
    for e in [
        DatasetEntry(
            "fashion10k", "embedded default: 10,000 Fashion-MNIST test images, 32 px, no root needed", Fashion10k
        ),
        DatasetEntry(
            "fashion-mnist",
            "Fashion-MNIST train (60,000), 32 px; Debian package, --data-root or download",
            FashionMnist,
        ),
        DatasetEntry("cifar10", "CIFAR-10 train (50,000), 32 px; download or --data-root", Cifar10),
        DatasetEntry("celeba64", "CelebA aligned (202,599), crop box then 64 px; --data-root", _celeba64, ("crop",)),
        DatasetEntry("ffhq128", "FFHQ (70,000) at 128 px; --data-root", lambda root: ffhq(root, 128)),
        DatasetEntry("ffhq256", "FFHQ (70,000) at 256 px; --data-root", lambda root: ffhq(root, 256)),
        DatasetEntry(
            "lsun-bedroom128",
            "LSUN bedroom (exported images) at 128 px; --data-root",
            lambda root: lsun_bedroom(root, 128),
        ),
        DatasetEntry(
            "lsun-bedroom256",
            "LSUN bedroom (exported images) at 256 px; --data-root",
            lambda root: lsun_bedroom(root, 256),
        ),
    ]
}
# The preset names of ladagan.presets, so `--data bedroom256` finds its data.
ALIASES = {"bedroom128": "lsun-bedroom128", "bedroom256": "lsun-bedroom256"}


def known_names() -> list[str]:
    """Every accepted dataset name (plus the folder:PATH form)."""
    return [*ENTRIES, *ALIASES, "folder:PATH", "folder:PATH@RES"]


def _unknown(name: str) -> UserError:
    """The error for an unknown name, with the closest match and the full list."""
    close = difflib.get_close_matches(name, [*ENTRIES, *ALIASES], n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return UserError(f"dataset '{name}' is unknown{hint}; known: {', '.join(known_names())}")


def _parse_options(entry: DatasetEntry, text: str, name: str) -> dict[str, str]:
    """'key=value' -> {key: value}, checked against the entry's accepted keys."""
    key, sep, value = text.partition("=")
    if not sep or key not in entry.options:
        accepted = ", ".join(f"{entry.name}:{k}=..." for k in entry.options) or "none"
        raise UserError(f"dataset '{name}': option '{text}' is not understood; accepted: {accepted}")
    return {key: value}


def checked_data_root(data_root: str | None) -> None:
    """A UserError when a data root was given but is not a folder (a typo would otherwise pass unnoticed).

    Datasets that read the root say themselves where they looked and how to get the data; this is for
    the embedded fashion10k, which never reads it, and for commands that check before long work.
    """
    if data_root is None:
        return
    root = Path(data_root).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise UserError(f"--data-root {data_root} {what}; pass the folder holding the datasets")


def make_source(name: str, data_root: str | None = None) -> Source:
    """The source for a dataset name; UserError for an unknown name (listing the known ones) or a bad data root."""
    if name.startswith(FOLDER_PREFIX):
        return image_folder(name[len(FOLDER_PREFIX) :])
    base, sep, option_text = name.partition(":")
    entry = ENTRIES.get(ALIASES.get(base, base))
    if entry is None:
        raise _unknown(name)
    options = _parse_options(entry, option_text, name) if sep else {}
    source = entry.make(data_root, **options)
    if isinstance(source, Fashion10k):  # it ships with the package: a root given for it is otherwise never looked at
        checked_data_root(data_root)
    return source


def status_rows(data_root: str | None) -> list[tuple[str, bool, str]]:
    """(name, found, detail) per registered dataset for `ladabench doctor`; reads no images, downloads nothing."""
    rows = []
    for name, entry in ENTRIES.items():
        source = entry.make(data_root)
        if isinstance(source, (Cifar10, FashionMnist)):
            # Sources with a download fallback: look only, never download from doctor.
            found = source.find()
            looked = source.candidates()
            missing = "downloads on first use where the network allows, else pass --data-root"
        else:
            try:
                found = source.locate()
            except MissingDataError:
                found = None
            looked = getattr(source, "candidates", [])
            missing = f"`ladabench data prepare {name}` says how to obtain it"
        if found is not None:
            rows.append((name, True, f"found: {found}"))
        else:
            where = f"looked in {', '.join(map(str, looked))}" if looked else "no --data-root given"
            rows.append((name, False, f"not found ({where}); {missing}"))
    return rows
