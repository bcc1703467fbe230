"""Decode a source once into a cached .npy (atomic write), then open it memory-mapped.

Cache layout: `cache_dir("datasets")/<slug>-<hash16>.npy` plus `<same>.json` (meta). The hash in the
name is the content hash, so a change of files or preprocessing prepares a new file instead of
reusing a stale one. Both files are written under temp names and renamed when complete.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from bench.core.console import err_console
from bench.core.errors import UserError, WriteError
from bench.core.paths import CACHE_ENV, cache_dir, cache_root
from bench.core.progress import LoggedProgress
from bench.data.hashing import DATA_FORMAT_VERSION, content_hash, files_fingerprint
from bench.data.types import ArraySource, FileSource, PreparedDataset, Source, UnreadableImageError

# PIL releases the GIL while decoding and resizing, so threads scale JPEG decoding across cores.
DECODE_THREADS = min(8, os.cpu_count() or 1)
CHUNK_FILES = 512  # files submitted at once; bounds memory for folders of 10^5+ images
SKIPPED_LISTED = 20  # skipped file names kept in the meta (all are counted)


def cache_paths(source: Source, digest: str) -> tuple[Path, Path]:
    """The .npy and .json paths of a prepared source in the cache."""
    slug = re.sub(r"[^a-z0-9]+", "-", source.name.lower().rsplit("/", 1)[-1]).strip("-") or "data"
    stem = f"{slug[:40]}-{source.resolution}px-{digest[:16]}"
    try:
        folder = cache_dir("datasets")
    except OSError as exc:
        wanted = cache_root() / "datasets"
        blocker = next((p for p in (wanted, *wanted.parents) if p.exists()), None)  # the OS says only "Not a directory"
        why = f"{blocker} is a file, not a folder" if blocker is not None and not blocker.is_dir() else str(exc)
        raise UserError(f"cannot create the dataset cache ({why}); set ${CACHE_ENV} to a writable folder") from exc
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def source_hash(source: Source) -> tuple[str, dict]:
    """The content hash of a source and the fingerprint it was computed from."""
    root = source.locate()
    fingerprint = files_fingerprint(root, source.source_files())
    return content_hash(fingerprint, source.preprocessing()), fingerprint


def load_source(source: Source, strict: bool = False) -> PreparedDataset:
    """The prepared dataset for a source: from the cache, or decoded now (rich progress) and cached."""
    digest, fingerprint = source_hash(source)
    npy_path, meta_path = cache_paths(source, digest)
    if not (npy_path.is_file() and meta_path.is_file()):
        try:
            _prepare(source, digest, fingerprint, npy_path, meta_path, strict)
        except OSError as exc:
            if not str(exc.filename or "").startswith(str(npy_path.parent)):
                raise
            raise WriteError(
                f"cannot prepare {source.name} into the cache folder {npy_path.parent} ({exc.strerror}); "
                f"set ${CACHE_ENV} to a writable folder"
            ) from exc
    # Named as requested: identical content reached through another name shares the cache file.
    return open_prepared(npy_path, meta_path, name=source.name)


def open_prepared(npy_path: Path, meta_path: Path, name: str | None = None) -> PreparedDataset:
    """Open a cached .npy read-only memory-mapped, with its meta (named `name`, else as prepared)."""
    meta = json.loads(meta_path.read_text())
    images = np.load(npy_path, mmap_mode="r")
    return PreparedDataset(
        name=name or meta["name"],
        resolution=meta["resolution"],
        count=int(images.shape[0]),
        content_hash=meta["content_hash"],
        images=images,
        meta=meta,
        cache_path=npy_path,
    )


@contextmanager
def _temp_path(final: Path) -> Iterator[Path]:
    """A temp name beside `final`, removed on any failure (the caller renames it on success)."""
    tmp = final.with_name(f".{final.stem}.{os.getpid()}.tmp{final.suffix}")
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _progress() -> LoggedProgress:
    """A progress bar on stderr (stdout stays clean for tables and piping); plain lines without a terminal."""
    return LoggedProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
    )


def _prepare(source: Source, digest: str, fingerprint: dict, npy_path: Path, meta_path: Path, strict: bool) -> None:
    """Decode the source into a temp .npy, write the meta, rename both into place."""
    start = time.perf_counter()
    with _temp_path(npy_path) as tmp_npy, _temp_path(meta_path) as tmp_meta:
        if isinstance(source, FileSource):
            count, skipped = _decode_files(source, tmp_npy, strict)
        elif isinstance(source, ArraySource):
            count, skipped = _decode_array(source, tmp_npy), []
        else:
            raise TypeError(f"unsupported source type {type(source).__name__}")
        seconds = time.perf_counter() - start
        meta = {
            "name": source.name,
            "resolution": source.resolution,
            "count": count,
            "content_hash": digest,
            **source.describe(),
            "preprocessing": source.preprocessing(),
            "hash_mode": fingerprint["mode"],
            "source_files": fingerprint["files"],
            "source_bytes": fingerprint["bytes"],
            "skipped_count": len(skipped),
            "skipped": skipped[:SKIPPED_LISTED],
            "prepare_seconds": round(seconds, 3),
            "prepare_img_per_sec": round(count / seconds, 1) if seconds > 0 else None,
            "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "format": DATA_FORMAT_VERSION,
        }
        tmp_meta.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp_npy, npy_path)
        os.replace(tmp_meta, meta_path)
    if skipped:
        err_console.print(
            f"[yellow]warning:[/] {len(skipped)} unreadable image file(s) skipped in {source.name}, "
            f"e.g. {skipped[0]} (listed in {meta_path}; --strict makes this an error)"
        )


def _decode_array(source: ArraySource, tmp_npy: Path) -> int:
    """Load an archive-backed source whole and save it."""
    with _progress() as progress:
        task = progress.add_task(f"reading {source.name}", total=None, rate="")
        images = source.load_array()
        _check_images(source, images)
        progress.update(task, total=len(images), completed=len(images))
    with open(tmp_npy, "wb") as f:
        np.save(f, images, allow_pickle=False)
    return len(images)


def _check_images(source: Source, images: np.ndarray) -> None:
    """Every source must yield uint8 (N, R, R, 3) with N > 0."""
    r = source.resolution
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (r, r, 3) or len(images) == 0:
        raise UserError(f"{source.name}: expected uint8 images (N, {r}, {r}, 3), got {images.dtype} {images.shape}")


def _safe_decode(source: FileSource, path: Path) -> np.ndarray | str:
    """The decoded image, or the error text when the file is unreadable."""
    try:
        return source.decode(path)
    except UnreadableImageError as exc:
        return str(exc)


def _decode_files(source: FileSource, tmp_npy: Path, strict: bool) -> tuple[int, list[str]]:
    """Decode every file in threads into a memmapped temp .npy; unreadable files are skipped or fatal."""
    files = source.files()
    root = source.locate()
    r = source.resolution
    out = open_memmap(tmp_npy, mode="w+", dtype=np.uint8, shape=(len(files), r, r, 3))
    count, skipped = 0, []
    start = time.perf_counter()
    with _progress() as progress, ThreadPoolExecutor(DECODE_THREADS) as pool:
        task = progress.add_task(f"decoding {source.name}", total=len(files), rate="")
        for first in range(0, len(files), CHUNK_FILES):
            chunk = files[first : first + CHUNK_FILES]
            for path, result in zip(chunk, pool.map(lambda p: _safe_decode(source, p), chunk), strict=True):
                if isinstance(result, str):
                    if strict:
                        raise UserError(f"unreadable image ({result}); fix or remove it, or drop --strict to skip it")
                    skipped.append(path.relative_to(root).as_posix())
                    continue
                out[count] = result
                count += 1
            done = first + len(chunk)
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=done, rate=f"{rate:,.0f} img/s")
    if count == 0:
        raise UserError(f"{source.name}: none of the {len(files)} files in {root} could be read")
    out.flush()
    del out
    if count < len(files):
        _shrink(tmp_npy, count)
    return count, skipped


def _shrink(npy_path: Path, count: int) -> None:
    """Rewrite a .npy keeping its first `count` images (the skipped files left unused rows at the end)."""
    full = np.load(npy_path, mmap_mode="r")
    shrunk_path = npy_path.with_name(npy_path.name + ".shrink")
    try:
        shrunk = open_memmap(shrunk_path, mode="w+", dtype=np.uint8, shape=(count, *full.shape[1:]))
        for first in range(0, count, 4096):
            shrunk[first : first + 4096] = full[first : min(first + 4096, count)]
        shrunk.flush()
        del shrunk, full
        os.replace(shrunk_path, npy_path)
    finally:
        shrunk_path.unlink(missing_ok=True)
