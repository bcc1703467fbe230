"""Experiment trackers (TensorBoard, Weights & Biases): mirrors of a run's stats, metrics and sample grids.

`stats.jsonl` and `metric-*.jsonl` stay the truth; a tracker only repeats them, under StyleGAN3's
scalar names (`Loss/D/loss`, `Timing/sec_per_kimg`, ...) with metrics as `Metrics/<metric name>`.
A tracker that cannot start (package missing, no login) or fails later is one warning line and the
run goes on without it. Only rank 0 of a DDP job tracks (the caller passes its rank).

Steps: TensorBoard's step is an integer, and short runs tick below one kimg, so its step is the number
of real images shown (kimg × 1000); W&B plots against `kimg` itself (a float step metric). Both tools
write inside the run folder: TensorBoard's events under `tensorboard/`, W&B's files under `wandb/`
(offline with WANDB_MODE=offline); a resumed run continues the same W&B run id.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.core.console import err_console
from bench.core.errors import UserError
from bench.core.records import MetricLine, StatsLine

TRACKERS = ("tensorboard", "wandb")
TENSORBOARD_DIR, WANDB_DIR = "tensorboard", "wandb"  # inside the run folder
WANDB_PROJECT_ENV, DEFAULT_WANDB_PROJECT = "WANDB_PROJECT", "ladabench"
EXTRA_OF = {"tensorboard": "tensorboard", "wandb": "wandb"}  # pyproject extras: pip install 'ladabench[NAME]'

# stats.jsonl field -> tracker name (StyleGAN3's where it has one) and the factor applied to the value.
STATS_SCALARS: dict[str, tuple[str, float]] = {
    "loss_d": ("Loss/D/loss", 1.0),
    "loss_g": ("Loss/G/loss", 1.0),
    "r1": ("Loss/r1_penalty", 1.0),
    "cr": ("Loss/D/cr_penalty", 1.0),
    "grad_norm_d": ("Loss/D/grad_norm", 1.0),
    "grad_norm_g": ("Loss/G/grad_norm", 1.0),
    "tick_s": ("Timing/sec_per_tick", 1.0),
    "wall_s": ("Timing/total_sec", 1.0),
    "img_per_sec": ("Timing/img_per_sec", 1.0),
    "peak_mem_bytes": ("Resources/peak_mem_gb", 1 / 2**30),
    "amp_skipped_steps": ("Progress/amp_skipped_steps", 1.0),
    "kimg": ("Progress/kimg", 1.0),
}
_WANDB_RUN_FOLDER = re.compile(r"^(?:offline-)?run-\d{8}_\d{6}-(?P<id>[a-z0-9]+)$")


def parse_trackers(names: Iterable[str]) -> tuple[str, ...]:
    """The chosen trackers in a fixed order, or a UserError naming an unknown one."""
    chosen = [n.strip().lower() for n in names if n.strip()]
    for name in chosen:
        if name not in TRACKERS:
            raise UserError(f"--tracker '{name}' is unknown; use {' or '.join(TRACKERS)} (comma-separated for both)")
    return tuple(n for n in TRACKERS if n in chosen)


def stats_scalars(record: StatsLine) -> dict[str, float]:
    """The tracker scalars of one stats line (fields that are absent or null are left out)."""
    out = {}
    for key, (name, factor) in STATS_SCALARS.items():
        value = getattr(record, key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value) * factor
    if record.img_per_sec is not None and record.img_per_sec > 0:
        out["Timing/sec_per_kimg"] = 1000.0 / float(record.img_per_sec)
    return out


def metric_scalars(line: MetricLine) -> dict[str, float]:
    """The tracker scalars of one metric line: the value, and each part of a multi-part metric."""
    out = {f"Metrics/{line.metric}": float(line.value)}
    for part, fields in (line.components or {}).items():
        if isinstance(fields, dict) and isinstance(fields.get("value"), int | float):
            out[f"Metrics/{line.metric}/{part}"] = float(fields["value"])
    return out


def warn(message: str) -> None:
    """The one line a tracker problem prints (training goes on)."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


class TensorBoardTracker:
    """Events files under `<run>/tensorboard/`, written with torch's SummaryWriter."""

    name = "tensorboard"

    def __init__(self, run_path: Path, options: dict[str, Any]) -> None:
        """Open a writer (an ImportError when the tensorboard package is missing)."""
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer = SummaryWriter(log_dir=str(run_path / TENSORBOARD_DIR))

    def scalars(self, values: dict[str, float], kimg: float) -> None:
        """One point per scalar at images shown = kimg × 1000."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=round(kimg * 1000))
        self.writer.flush()

    def image(self, tag: str, pixels: Any, kimg: float) -> None:
        """A sample grid (H, W, 3 uint8)."""
        self.writer.add_image(tag, pixels, global_step=round(kimg * 1000), dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the events file."""
        self.writer.close()


def previous_wandb_id(run_path: Path) -> str | None:
    """The W&B run id an earlier session of this run used (from wandb's own folder names), if any."""
    folders = sorted((run_path / WANDB_DIR).glob("*run-*"), key=lambda p: p.name.split("run-", 1)[-1])
    ids = [m["id"] for p in folders if p.is_dir() and (m := _WANDB_RUN_FOLDER.match(p.name))]
    return ids[-1] if ids else None


class WandbTracker:
    """A W&B run whose files live in `<run>/wandb/`; resumed sessions continue the same run id."""

    name = "wandb"

    def __init__(self, run_path: Path, options: dict[str, Any]) -> None:
        """Start (or resume) the run (an ImportError without wandb; wandb's own errors without a login)."""
        import wandb  # needs the wandb package

        self.wandb = wandb
        self.run = wandb.init(
            project=os.environ.get(WANDB_PROJECT_ENV, DEFAULT_WANDB_PROJECT),
            id=previous_wandb_id(run_path),  # None: a new run; wandb draws its id
            resume="allow",
            dir=str(run_path),
            name=run_path.name,
            config=options,
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        self.run.define_metric("kimg")
        self.run.define_metric("*", step_metric="kimg")

    def scalars(self, values: dict[str, float], kimg: float) -> None:
        """One history row against kimg."""
        self.run.log({"kimg": kimg, **values})

    def image(self, tag: str, pixels: Any, kimg: float) -> None:
        """A sample grid as a W&B image."""
        self.run.log({"kimg": kimg, tag: self.wandb.Image(pixels)})

    def close(self) -> None:
        """Finish the run (a resumed session reopens it by id)."""
        self.run.finish()


_FACTORIES = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker}


class Trackers:
    """The trackers one training session (or one `eval`) mirrors to; with none started every call does nothing."""

    def __init__(self, started: list[Any]) -> None:
        """Wrap the trackers that started."""
        self.started = started

    @classmethod
    def open(cls, names: Iterable[str], run_path: Path, options: dict[str, Any], rank: int = 0) -> Trackers:
        """Start each named tracker for a run; one that cannot start is a warning line and is left out."""
        started = []
        for name in parse_trackers(names) if rank == 0 else ():
            try:
                started.append(_FACTORIES[name](Path(run_path), options))
            except ImportError as exc:
                warn(
                    f"tracker {name} not started: {exc}; install it with pip install 'ladabench[{EXTRA_OF[name]}]' "
                    "(training continues; stats.jsonl has every value)"
                )
            except Exception as exc:  # a login, network or permission problem inside the tracker's package
                hint = "; set WANDB_MODE=offline or run `wandb login`" if name == "wandb" else ""
                detail = str(exc).strip().rstrip(".")
                warn(f"tracker {name} not started: {type(exc).__name__}: {detail}{hint} (training continues)")
        return cls(started)

    def _each(self, call: str, *args: Any) -> None:
        """Call one method on every tracker; a tracker that fails is dropped with a warning line."""
        for tracker in list(self.started):
            try:
                getattr(tracker, call)(*args)
            except Exception as exc:  # a tracker must never stop training
                warn(f"tracker {tracker.name} stopped: {type(exc).__name__}: {exc} (training continues)")
                self.started.remove(tracker)

    def stats(self, record: StatsLine) -> None:
        """Mirror one stats line."""
        if self.started:
            self._each("scalars", stats_scalars(record), record.kimg)

    def metric(self, line: MetricLine, kimg: float | None = None) -> None:
        """Mirror one metric line at `kimg` (default: the kimg of the snapshot it measured, 0 when unknown)."""
        if self.started:
            self._each("scalars", metric_scalars(line), float(kimg if kimg is not None else line.kimg or 0.0))

    def samples(self, path: Path, kimg: float) -> None:
        """Mirror a sample grid PNG as the image `Samples/G_ema`."""
        if self.started:
            import numpy as np
            from PIL import Image

            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
            self._each("image", "Samples/G_ema", pixels, kimg)

    def close(self) -> None:
        """Close every tracker (at the end of a session, also after an error or Ctrl-C)."""
        self._each("close")
        self.started = []

    def __enter__(self) -> Trackers:
        """Use as a context manager so trackers close however the session ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on exit."""
        self.close()


def _then(first: Any, second: Any) -> Any:
    """A hook that calls the caller's hook (when there is one), then the tracker's."""

    def both(*args: Any) -> None:
        """Both hooks, in order; the tracker's runs even when the caller's raised."""
        try:
            if first is not None:
                first(*args)
        finally:
            second(*args)

    return both


def with_trackers(hooks: Any, options: Any) -> Any:
    """Training hooks (a TrainHooks) that also mirror to the trackers named in `options.trackers` (none: unchanged).

    The trackers start when the session opens (after options.json is written or the snapshot restored)
    and close when it ends, however it ends. Only rank 0 calls hooks, so only rank 0 tracks.
    """
    if not options.trackers:
        return hooks
    trackers = Trackers([])

    def on_open(run: Any, resumed: bool) -> None:
        """Start the trackers inside the run folder."""
        trackers.started = Trackers.open(options.trackers, run.path, options.to_json()).started

    def on_metrics(kimg: float, rows: list[Any]) -> None:
        """Each metric line of the evaluated snapshot."""
        for row in rows:
            trackers.metric(row, kimg)

    return dataclasses.replace(
        hooks,
        on_open=_then(hooks.on_open, on_open),
        on_tick=_then(hooks.on_tick, trackers.stats),
        on_metrics=_then(hooks.on_metrics, on_metrics),
        on_grid=_then(hooks.on_grid, lambda kimg, path: trackers.samples(Path(path), kimg)),
        on_close=_then(hooks.on_close, lambda run, reason: trackers.close()),
    )


def mirror_metrics(run_path: Path, options: dict[str, Any], lines: Iterable[MetricLine]) -> None:
    """Send metric lines computed outside training (`ladabench eval`) to the trackers the run was trained with."""
    names = options.get("trackers") or ()
    if names:
        with Trackers.open(names, Path(run_path), options) as trackers:
            for line in lines:
                trackers.metric(line)
