"""The run directory: the one owner of its file names, globs and patterns, and of how each file is written.

Layout (one folder per training run, self-describing):
`options.json` (resolved options), `env.json` (provenance), `log.txt`, `stats.jsonl` (one line per
tick), `metric-<name>.jsonl` (one line per evaluation), `samples-<kimg>.png`, `snapshot-<kimg>.pt`,
`train.lock` (present while a process trains it). `<kimg>` is the tag of `kimg_tag`: whole kimg as six
digits, with the images past them as three decimals when there are any (`000000.016` = 16 images),
so two different image counts never share a name. Runs written before that named files by whole
kimg only (images // 1000); those names still read, ordered by the kimg they record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.files import (
    PARTIAL_WRITE_GLOB,
    append_line,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    read_jsonl_numbered,
)
from bench.core.paths import RUNS_DIR, require_writable_folder
from bench.core.records import MetricLine, StatsLine

OPTIONS_FILE, ENV_FILE, LOG_FILE, STATS_FILE, LOCK_FILE = (
    "options.json",
    "env.json",
    "log.txt",
    "stats.jsonl",
    "train.lock",
)
SNAPSHOT_GLOB, METRIC_GLOB = "snapshot-*.pt", "metric-*.jsonl"
_SNAPSHOT_NAME = re.compile(r"snapshot-(\d+)(?:\.(\d{3}))?\.pt$")
_RUN_NUMBER = re.compile(r"(\d{5,})-")


def kimg_tag(images_seen: int) -> str:
    """The file tag for a point in training: `000120` at 120 000 images, `000120.016` at 120 016."""
    whole, rest = divmod(int(images_seen), 1000)
    return f"{whole:06d}" + (f".{rest:03d}" if rest else "")


def snapshot_images(snapshot_path: Path) -> int | None:
    """The images seen a snapshot file name records (`snapshot-000120.016.pt` -> 120016), or None."""
    match = _SNAPSHOT_NAME.search(Path(snapshot_path).name)
    return int(match[1]) * 1000 + int(match[2] or 0) if match else None


def snapshot_kimg(snapshot_path: Path) -> float | None:
    """The kimg a snapshot file name records (`snapshot-000120.pt` -> 120, `snapshot-000000.016.pt` -> 0.016)."""
    images = snapshot_images(snapshot_path)
    return None if images is None else (images // 1000 if images % 1000 == 0 else images / 1000)


def _slug(text: str) -> str:
    """A folder-name-safe version of a dataset or preset name ('folder:/a/b@64' -> 'folder-b-64')."""
    if text.startswith("folder:"):
        path, _, res = text[len("folder:") :].partition("@")
        text = f"folder-{Path(path).name}" + (f"-{res}" if res else "")
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-") or "data"


def run_name(
    run_id: int,
    model: str,
    data: str,
    preset: str,
    total_kimg: float | None,
    seed: int,
    budget_tflops: float | None = None,
) -> str:
    """`<NNNNN>-<model>-<data>-<preset>-kimg<K>-seed<S>` (`-tflops<T>-` for a training-compute budget)."""
    if budget_tflops is not None:
        budget = f"tflops{budget_tflops:g}"
    else:
        budget = "kimginf" if total_kimg is None else f"kimg{total_kimg:g}"
    return f"{run_id:05d}-{_slug(model)}-{_slug(data)}-{_slug(preset)}-{budget}-seed{seed}"


class _File:
    """A run-directory file as a read-only attribute (`run.stats_path` is `run.path / "stats.jsonl"`)."""

    def __init__(self, name: str) -> None:
        """The file's name inside the run directory."""
        self.name = name

    def __get__(self, run: RunDir | None, owner: type | None = None) -> Any:
        """The file's path for an instance (the descriptor itself on the class)."""
        return self if run is None else run.path / self.name


@dataclass(frozen=True)
class RunDir:
    """One run directory: where each of its files lives, and reading and writing them."""

    path: Path

    def __post_init__(self) -> None:
        """Accept a str or Path."""
        object.__setattr__(self, "path", Path(self.path))

    # ----- creating and finding runs ----------------------------------------------------------
    @classmethod
    def create(
        cls,
        out_dir: Path,
        model: str,
        data: str,
        preset: str,
        total_kimg: float | None,
        seed: int,
        budget_tflops: float | None = None,
    ) -> RunDir:
        """Make a new numbered run folder under `out_dir` (the next free number; safe against races)."""
        out_dir = Path(out_dir)
        require_writable_folder(out_dir, "--out")  # names the file in the way (mkdir would say only "File exists")
        out_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(out_dir, os.W_OK):
            raise UserError(f"the output folder {out_dir} is not writable; pass a writable --out")
        used = [int(m.group(1)) for p in out_dir.iterdir() if (m := _RUN_NUMBER.match(p.name))]
        run_id = max(used, default=-1) + 1
        while True:
            path = out_dir / run_name(run_id, model, data, preset, total_kimg, seed, budget_tflops)
            try:
                path.mkdir()  # fails if another process took this number first
                return cls(path)
            except FileExistsError:
                run_id += 1

    @staticmethod
    def is_run(path: Path) -> bool:
        """Whether `path` is a run directory (it holds options.json)."""
        return (Path(path) / OPTIONS_FILE).is_file()

    @classmethod
    def find(cls, paths: list[Path]) -> list[RunDir]:
        """Runs named by `paths`: a run itself, or every run below a folder (sorted, each once)."""
        found: list[Path] = []
        for path in map(Path, paths):
            if not path.exists():
                raise UserError(
                    f"{path} does not exist; pass run directories or a folder of runs (default: {RUNS_DIR}/)"
                )
            if cls.is_run(path):
                found.append(path)
            elif path.is_dir():
                found += sorted(p.parent for p in path.rglob(OPTIONS_FILE))
        return [cls(p) for p in dict.fromkeys(p.resolve() for p in found)]

    @classmethod
    def children(cls, folder: Path) -> list[RunDir]:
        """The runs directly inside `folder`, in name order (none when it does not exist)."""
        folder = Path(folder)
        return [cls(p.parent) for p in sorted(folder.glob(f"*/{OPTIONS_FILE}"))] if folder.is_dir() else []

    # ----- file names --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The folder's name (`00003-ladagan-...`)."""
        return self.path.name

    options_path = _File(OPTIONS_FILE)  # the resolved options
    env_path = _File(ENV_FILE)  # versions, hardware and provenance of the first session
    log_path = _File(LOG_FILE)  # the human log
    stats_path = _File(STATS_FILE)  # one line per tick
    lock_path = _File(LOCK_FILE)  # held by the one process training the run

    def snapshot_path(self, images_seen: int) -> Path:
        """The snapshot file for a point in training."""
        return self.path / f"snapshot-{kimg_tag(images_seen)}.pt"

    def samples_path(self, images_seen: int) -> Path:
        """The sample grid for a point in training."""
        return self.path / f"samples-{kimg_tag(images_seen)}.png"

    def metric_path(self, metric: str) -> Path:
        """The JSON-lines file of one metric name."""
        return self.path / f"metric-{metric}.jsonl"

    # ----- snapshots ---------------------------------------------------------------------------
    def snapshots(self) -> list[Path]:
        """The run's snapshots, oldest first (by the images their names record, then by name)."""
        found = [p for p in self.path.glob(SNAPSHOT_GLOB) if snapshot_images(p) is not None]
        return sorted(found, key=lambda p: (snapshot_images(p), p.name))

    def latest_snapshot(self) -> Path:
        """The newest snapshot, or a UserError when there is none."""
        found = self.snapshots()
        if not found:
            raise UserError(f"run {self.path} has no snapshot yet; train it (or resume it) until one is written")
        return found[-1]

    def final_snapshot_name(self) -> str | None:
        """File name of the newest snapshot (the 'final at budget' one when the run is complete)."""
        found = self.snapshots()
        return found[-1].name if found else None

    def snapshot_named(self, text: str) -> Path:
        """A snapshot given as a file path or a kimg number (`120` -> snapshot-000120.pt); a UserError if absent."""
        path = Path(text)
        if not path.is_file() and re.fullmatch(r"\d+(\.\d{1,3})?", text):
            path = self.snapshot_path(round(float(text) * 1000))
        if not path.is_file():
            available = ", ".join(p.name for p in self.snapshots()) or "none"
            raise UserError(f"snapshot '{text}' not found in {self.path}; available: {available}")
        return path

    def partial_writes(self) -> list[Path]:
        """Temporary files a killed writer left behind."""
        return sorted(self.path.glob(PARTIAL_WRITE_GLOB))

    # ----- reading -----------------------------------------------------------------------------
    def read_options(self) -> dict[str, Any]:
        """options.json as stored, or a UserError saying the folder is not a run."""
        if not self.options_path.is_file():
            raise UserError(
                f"{self.path} is not a training run (no options.json); pass a folder made by `ladabench train`"
            )
        return read_json(self.options_path)

    def read_env(self) -> dict[str, Any]:
        """env.json ({} when absent)."""
        return read_json(self.env_path) if self.env_path.is_file() else {}

    def read_stats(self) -> list[StatsLine]:
        """Every complete stats line; a UserError naming the file and line for one without its counters."""
        return [self._record(StatsLine, number, line) for number, line in read_jsonl_numbered(self.stats_path)]

    def images_seen(self) -> int:
        """Images shown to D so far, from the last complete stats line (0 before the first tick)."""
        stats = self.read_stats()
        return stats[-1].images_seen if stats else 0

    def metric_lines(self, metric: str | None = None) -> list[MetricLine]:
        """Every complete metric line (of one metric name, or of all in name order)."""
        paths = [self.metric_path(metric)] if metric else sorted(self.path.glob(METRIC_GLOB))
        return [
            self._record(MetricLine, number, line, path) for path in paths for number, line in read_jsonl_numbered(path)
        ]

    def _record(self, record: type, number: int, line: dict[str, Any], path: Path | None = None) -> Any:
        """One stored line as its record type, or a UserError naming the file and line."""
        try:
            return record.from_json(line)
        except ValueError as exc:
            raise UserError(f"{path or self.stats_path}, line {number}: {exc}; fix or delete that line") from None

    # ----- writing -----------------------------------------------------------------------------
    def write_options(self, options: dict[str, Any]) -> None:
        """Write options.json atomically."""
        atomic_write_json(self.options_path, options)

    def write_env(self, env: dict[str, Any]) -> None:
        """Write env.json atomically."""
        atomic_write_json(self.env_path, env)

    def log(self, message: str) -> None:
        """Append a time-stamped line to log.txt."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        append_line(self.log_path, f"{stamp}  {message}")

    def append_stats(self, line: StatsLine) -> None:
        """Append one tick's line to stats.jsonl."""
        append_line(self.stats_path, json.dumps(line.to_json()))

    def append_metric(self, line: MetricLine) -> None:
        """Append one evaluation result to metric-<its name>.jsonl."""
        append_line(self.metric_path(line.metric), json.dumps(line.to_json()))

    def truncate_stats(self, images_seen: int) -> None:
        """Keep only stats lines up to a snapshot's images_seen (ticks after it will be trained again)."""
        if not self.stats_path.exists():
            return
        kept = []
        for line in self.stats_path.read_text().splitlines():
            try:
                if StatsLine.from_json(json.loads(line)).images_seen <= images_seen:
                    kept.append(line)
            except (json.JSONDecodeError, ValueError, AttributeError):
                continue  # a line cut short by a crash: its tick will be trained and logged again
        atomic_write_bytes(self.stats_path, "".join(ln + "\n" for ln in kept).encode())
