"""`ladabench models` lists every LadaGAN preset with its exact G and D parameter counts."""

from __future__ import annotations

from lada_counts import discriminator_params, generator_params

from bench.cli import main
from ladagan import PRESETS


def test_models_lists_every_preset_with_exact_counts(capsys) -> None:
    assert main(["models", "ladagan"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[3].strip(): line for line in out.splitlines() if line.count("│") >= 7}
    assert set(rows) == set(PRESETS)
    for name, preset in PRESETS.items():
        cells = [c.strip() for c in rows[name].split("│")]
        assert cells[4] == str(preset.resolution)
        assert cells[5] == f"{generator_params(preset.generator):,}"
        assert cells[6] == f"{discriminator_params(preset.discriminator):,}"
