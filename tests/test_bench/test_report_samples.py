"""Sample grids side by side in reports: one panel per model, the shared seed's grid, embedded in the Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from reportfakes import make_run, metric_line

from bench.core.rundir import RunDir
from bench.report.build import build_report
from bench.report.columns import parse_metric_list
from bench.report.samples import GAP_PX, LABEL_PX, UPSCALE

KEYS = parse_metric_list("fid,kid")
COLOURS = {("ladagan", 0): (250, 0, 0), ("ladagan", 1): (0, 250, 0), ("conv", 0): (0, 0, 250), ("conv", 1): (9, 9, 9)}
INIT_COLOUR = (123, 45, 67)
Z_DIM = {"preset_config": {"generator": {"z_dim": 128}}}  # every model draws the same 128-wide latents
GRID_PX = 64  # a small stand-in for the runs' 256 px (8 x 8 of 32 px) grids


def _write_grid(path: Path, colour: tuple[int, int, int]) -> None:
    """A one-colour sample grid in the PNG form runs write."""
    Image.fromarray(np.full((GRID_PX, GRID_PX, 3), colour, np.uint8)).save(path)


def _grid(tmp_path: Path, seeds: dict[str, list[int]], init: bool = True) -> Path:
    """Runs with a grid at the budget (one colour per run) and before the first step; optionally FID at init."""
    root = tmp_path / "runs"
    index = 0
    for model, model_seeds in seeds.items():
        for seed in model_seeds:
            run = make_run(root, index, model, seed, {4: 50.0 + seed}, kid=10.0, options=Z_DIM)
            index += 1
            _write_grid(RunDir(run).samples_path(4000), COLOURS.get((model, seed), (200, 200, 200)))
            _write_grid(RunDir(run).samples_path(0), INIT_COLOUR)
            if init:
                line = metric_line("fid", 300.0, 0, run.name, model, snapshot="init")
                with open(run / "metric-fid500_train.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line) + "\n")
    return root


def _panel_colour(image: np.ndarray, column: int, row: int = 0) -> tuple[int, ...]:
    """The colour at the centre of panel (row, column) of a composed figure."""
    size = GRID_PX * UPSCALE
    top = row * (size + LABEL_PX + GAP_PX) + LABEL_PX + size // 2
    left = column * (size + GAP_PX) + size // 2
    return tuple(int(v) for v in image[top, left])


def test_report_embeds_each_models_final_grid_side_by_side(tmp_path: Path) -> None:
    root = _grid(tmp_path, {"ladagan": [0, 1], "conv": [0, 1]})
    report = build_report([root], KEYS, tmp_path / "out" / "r.md")
    text = report.markdown_path.read_text()
    assert "## Samples" in text and "![at the budget](r-samples.png)" in text
    assert "the same 64 fixed latents for every model (drawn from training seed 0's" in text
    figure = tmp_path / "out" / "r-samples.png"
    assert figure in report.figure_paths
    image = np.asarray(Image.open(figure).convert("RGB"))
    assert image.shape[1] >= 2 * GRID_PX * UPSCALE  # two panels in a row, upscaled
    # Seed 0 of each model, in the table's order (ladagan first): its red grid left, conv's blue grid right.
    assert _panel_colour(image, 0) == COLOURS[("ladagan", 0)]
    assert _panel_colour(image, 1) == COLOURS[("conv", 0)]
    assert "`00000-ladagan-fashion10k-tiny32-kimg4-seed0`" in text and "`00002-conv" in text


def test_initial_grids_appear_beside_the_from_initialisation_table_only(tmp_path: Path) -> None:
    with_init = build_report([_grid(tmp_path / "a", {"ladagan": [0], "conv": [0]})], KEYS, tmp_path / "a" / "r.md")
    text = with_init.markdown_path.read_text()
    assert "## From initialisation to the budget" in text and "![before the first step](r-samples-init.png)" in text
    image = np.asarray(Image.open(tmp_path / "a" / "r-samples-init.png").convert("RGB"))
    assert _panel_colour(image, 0) == INIT_COLOUR
    without = build_report(
        [_grid(tmp_path / "b", {"ladagan": [0], "conv": [0]}, init=False)], KEYS, tmp_path / "b" / "r.md"
    )
    assert "samples-init" not in without.markdown_path.read_text()
    assert not (tmp_path / "b" / "r-samples-init.png").exists()


def test_panels_use_the_smallest_seed_every_model_shares(tmp_path: Path) -> None:
    root = _grid(tmp_path, {"ladagan": [0, 1], "conv": [1]})
    report = build_report([root], KEYS, tmp_path / "r.md")
    image = np.asarray(Image.open(tmp_path / "r-samples.png").convert("RGB"))
    assert _panel_colour(image, 0) == COLOURS[("ladagan", 1)] and _panel_colour(image, 1) == COLOURS[("conv", 1)]
    assert "training seed 1" in report.markdown_path.read_text()


def test_more_models_than_columns_wrap_onto_rows(tmp_path: Path) -> None:
    root = _grid(tmp_path, {m: [0] for m in ("ladagan", "conv", "transgan")}, init=False)
    build_report([root], KEYS, tmp_path / "r.md")
    image = np.asarray(Image.open(tmp_path / "r-samples.png").convert("RGB"))
    size = GRID_PX * UPSCALE
    assert image.shape[0] > 2 * (size + LABEL_PX) and image.shape[1] < 3 * size  # two rows of at most two
    assert _panel_colour(image, 0, row=1) == (200, 200, 200)  # the third model's grid starts the second row
