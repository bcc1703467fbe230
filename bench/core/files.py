"""The one way the suite writes a file whole (atomic) or appends a line durably."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.core.errors import UserError, WriteError

PARTIAL_WRITE_GLOB = ".*.tmp-*"  # temporary names of `atomic_write_bytes`; a killed writer may leave one


def _fsync_folder(folder: Path) -> None:
    """Push a folder's entries (a rename into it) to disk; filesystems that refuse it keep the rename atomic."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so a reader sees the old content or the new, never a half-written one.

    The bytes go to `.<name>.tmp-<pid>` in the same folder (so the rename cannot cross filesystems),
    are flushed and fsynced, then renamed over `path` and the folder is fsynced. The new file gets the
    mode a plain `open()` gives (0666 less the umask, 0644 usually): reports stay readable by others.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(
            f"cannot write {path} ({exc.strerror or exc}); pass a writable location or free space"
        ) from exc
    finally:
        if tmp.exists():  # False also when the folder could not be made (then there is no temporary file)
            tmp.unlink()
    _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON (indented, keys in insertion order, trailing newline) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def append_line(path: Path, line: str) -> None:
    """Append one line and push it to disk (a crash loses at most the line being written)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def require_file(path: Path, label: str, fix: str) -> Path:
    """`path` when it is a file, else a UserError saying what it is instead (a folder, nothing) and `fix`."""
    path = Path(path)
    if path.is_file():
        return path
    what = "is a folder, not a file" if path.is_dir() else "does not exist"
    raise UserError(f"{label} {path} {what}; {fix}")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file as a dict, or a UserError naming the broken file (and the line of a syntax error)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}); restore the file or start the run again"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc}); is it a complete run directory?") from None
    if not isinstance(value, dict):
        raise UserError(
            f"{path}: expected a JSON object, found a {type(value).__name__}; restore the file or start the run again"
        )
    return value


def read_jsonl_numbered(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every line of a JSON-lines file ([] when absent).

    Only the last line may be cut short (an append interrupted by a crash has no newline yet): it is
    skipped. Any other line that is not a JSON object is a UserError naming the file and line number.
    """
    path = Path(path)
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc}); restore or delete the file") from None
    rows = text.splitlines()
    lines = []
    for number, row in enumerate(rows, start=1):
        if not row.strip():
            continue
        try:
            value = json.loads(row)
        except json.JSONDecodeError as exc:
            if number == len(rows) and not text.endswith("\n"):
                continue  # a torn final append: its record is written again by whoever resumes
            raise UserError(f"{path}, line {number}: not a JSON line ({exc.msg}); fix or delete that line") from None
        if not isinstance(value, dict):
            raise UserError(
                f"{path}, line {number}: expected a JSON object, found a {type(value).__name__}; "
                "fix or delete that line"
            )
        lines.append((number, value))
    return lines


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON-object line of a file (see `read_jsonl_numbered`)."""
    return [value for _, value in read_jsonl_numbered(path)]
