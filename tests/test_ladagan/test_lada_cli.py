"""`ladabench models` lists every LadaGAN preset with its exact G and D parameter counts."""

from __future__ import annotations

from lada_counts import discriminator_params, generator_params

from bench.cli import main
from ladagan import PRESETS


def test_models_lists_every_preset_with_exact_counts(capsys) -> None:
    assert main(["models", "ladagan"]) == 0
    out = capsys.readouterr().out
    # Columns by their header names, so a new column does not shift what the test reads.
    header = next(line for line in out.splitlines() if "┃" in line and "preset" in line)
    names = [c.strip() for c in header.split("┃")]
    lines = [line for line in out.splitlines() if "│" in line]
    table = [dict(zip(names, (c.strip() for c in line.split("│")), strict=True)) for line in lines]
    rows = {cells["preset"]: cells for cells in table if cells.get("model") == "ladagan"}
    assert set(rows) == set(PRESETS)
    for name, preset in PRESETS.items():
        assert rows[name]["res (px)"] == str(preset.resolution)
        assert rows[name]["G params"] == f"{generator_params(preset.generator):,}"
        assert rows[name]["D params"] == f"{discriminator_params(preset.discriminator):,}"
