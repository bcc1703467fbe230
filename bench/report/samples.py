"""Sample grids side by side: each model's G_ema grid at the budget (and before the first step) in one figure.

Every run writes `samples-<kimg>.png` from the same 64 latents per training seed (`bench.train.samples`:
drawn with a CPU generator seeded from the training seed alone, so every model trained at seed S renders the
same z when their latent widths agree). The figure takes, for each model, its run at the smallest training seed
all models share, so the panels differ by the model only.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from bench.core.files import atomic_write_bytes
from bench.core.rundir import RunDir
from bench.train.options import TrainOptions

MAX_COLUMNS = 2  # two 8 x 8 grids per row: a repository page (~880 px) shows each sample at ~50 px
UPSCALE = 2  # nearest-neighbour: 32 px samples become 64 px, sharp rather than blurred by the browser
LABEL_PX = 28  # the band above each panel holding the model's name
GAP_PX = 12


@dataclass(frozen=True)
class SamplePanel:
    """One model's grid in the figure: where it came from and what it shows."""

    model: str
    run: str
    seed: int
    path: Path
    z_dim: int | None


@dataclass(frozen=True)
class SampleFigure:
    """A written side-by-side figure and the words the report says about it."""

    path: Path
    panels: tuple[SamplePanel, ...]
    caption: str


def _z_dim(config: Any) -> int | None:
    """The generator's latent width from a stored preset config (the first `z_dim` found), or None."""
    if isinstance(config, dict):
        if isinstance(config.get("z_dim"), int):
            return config["z_dim"]
        for value in config.values():
            found = _z_dim(value)
            if found is not None:
                return found
    return None


def shared_seed(runs: pd.DataFrame, models: list[str]) -> int | None:
    """The smallest training seed every model has a run for, or None."""
    per_model = [set(runs.loc[runs["model"] == m, "seed"].astype(int)) for m in models]
    common = set.intersection(*per_model) if per_model else set()
    return min(common) if common else None


def pick_panels(runs: pd.DataFrame, models: list[str], initial: bool = False) -> list[SamplePanel]:
    """Per model (in `models` order): its grid at the budget (`initial`: before the first step) at the shared seed.

    A model without a run at the shared seed uses its smallest seed; a run without the grid is left out.
    """
    seed = shared_seed(runs, models)
    panels = []
    for model in models:
        rows = runs[runs["model"] == model].sort_values("seed")
        at_seed = rows[rows["seed"] == seed] if seed is not None else rows.iloc[:0]
        row = (at_seed if not at_seed.empty else rows).iloc[0]
        rundir = RunDir(Path(row["run_dir"]))
        path = rundir.samples_path(0 if initial else int(row["images_seen"]))
        if not path.is_file():
            continue
        options = TrainOptions.from_json(rundir.read_options(), str(rundir.options_path))
        panels.append(SamplePanel(model, str(row["run"]), int(row["seed"]), path, _z_dim(options.preset_config)))
    return panels


def _label(text: str, width: int) -> np.ndarray:
    """A white band of `width` px with `text` centred in black (PIL's built-in font, no font files needed)."""
    from PIL import ImageDraw, ImageFont

    band = Image.new("RGB", (width, LABEL_PX), "white")
    draw = ImageDraw.Draw(band)
    try:
        font = ImageFont.load_default(size=18)
    except TypeError:  # Pillow < 10.1: a fixed-size bitmap font
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - (right - left)) // 2, (LABEL_PX - (bottom - top)) // 2 - top), text, fill="black", font=font)
    return np.asarray(band)


def compose(panels: list[SamplePanel], upscale: int = UPSCALE, max_columns: int = MAX_COLUMNS) -> np.ndarray:
    """The panels' grids, each upscaled and labelled with its model, in rows of at most `max_columns` (uint8 HxWx3)."""
    images = [np.asarray(Image.open(p.path).convert("RGB")) for p in panels]
    images = [img.repeat(upscale, axis=0).repeat(upscale, axis=1) for img in images]
    height = max(img.shape[0] for img in images) + LABEL_PX
    width = max(img.shape[1] for img in images)
    columns = min(max_columns, len(images))
    rows = math.ceil(len(images) / columns)
    canvas = np.full((rows * height + (rows - 1) * GAP_PX, columns * width + (columns - 1) * GAP_PX, 3), 255, np.uint8)
    for i, (panel, img) in enumerate(zip(panels, images, strict=True)):
        r, c = divmod(i, columns)
        top, left = r * (height + GAP_PX), c * (width + GAP_PX)
        canvas[top : top + LABEL_PX, left : left + width] = _label(panel.model, width)
        canvas[top + LABEL_PX : top + LABEL_PX + img.shape[0], left : left + img.shape[1]] = img
    return canvas


def _caption(panels: list[SamplePanel], initial: bool) -> str:
    """What the figure shows, stated so a reader can check it: which generator, which runs, which latents."""
    seeds = sorted({p.seed for p in panels})
    widths = {p.z_dim for p in panels}
    when = (
        "G_ema before the first training step (`samples-000000.png`; with `ema_start fresh` a second freshly "
        "initialised G)"
        if initial
        else "G_ema at the budget (each run's final `samples-<kimg>.png`)"
    )
    same = (
        f"the same 64 fixed latents for every model (drawn from training seed {seeds[0]}'s sample-grid stream)"
        if len(seeds) == 1 and len(widths) == 1 and None not in widths
        else "latents fixed per run (seeds or latent widths differ between models: panels do not share z)"
    )
    runs = ", ".join(f"`{p.run}`" for p in panels)
    return f"{when}; {same}; runs: {runs}."


def write_sample_figure(
    runs: pd.DataFrame, models: list[str], path: Path, initial: bool = False
) -> SampleFigure | None:
    """Write the side-by-side figure of `models` to `path` (PNG); None when no run has the grid."""
    panels = pick_panels(runs, models, initial)
    if not panels:
        return None
    buffer = io.BytesIO()
    Image.fromarray(compose(panels)).save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(path, buffer.getvalue())
    return SampleFigure(Path(path), tuple(panels), _caption(panels, initial))


def samples_section(final: SampleFigure | None, initial: SampleFigure | None) -> str | None:
    """The report's 'Samples' section embedding the figures, or None without any."""
    if final is None and initial is None:
        return None
    lines = ["## Samples", ""]
    for title, figure in (("At the budget", final), ("Before the first step", initial)):
        if figure is not None:
            lines += [f"### {title}", "", figure.caption, "", f"![{title.lower()}]({figure.path.name})", ""]
    return "\n".join(lines).rstrip()
