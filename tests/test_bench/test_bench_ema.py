"""The grids' G_ema schedule option: parsed into TrainOptions fields, bad text refused with one line."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.commands.bench import grid_lr, grid_recipe, parse_grid_ema


def test_grid_ema_text_becomes_the_train_options_fields():
    assert parse_grid_ema("10,0.05") == {"ema_halflife_kimg": 10.0, "ema_rampup": 0.05}
    assert parse_grid_ema("2.5") == {"ema_halflife_kimg": 2.5, "ema_rampup": None}
    assert parse_grid_ema(" Reference ") == {}


@pytest.mark.parametrize("text", ["ten,0.05", "10,0.05,3", ""])
def test_bad_grid_ema_is_one_line_and_writes_nothing(tmp_path, capsys, text):
    out = tmp_path / "reports" / "q.md"
    code = main(["bench", "quick", "--ema", text, "--out", str(out), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err
    named = f"--ema '{text}'" if text else "--ema is empty"  # an empty value is refused for every option alike
    assert named in err.replace("\n", "") and "Traceback" not in err
    assert not out.parent.exists() and not (tmp_path / "runs").exists()


def test_grid_lr_sets_both_rates_and_refuses_non_positive(tmp_path, capsys):
    assert grid_lr(" Preset ") == {} and grid_lr("0.001") == {"lr_g": 0.001, "lr_d": 0.001}
    for text, message in (("-1", "--lr must be a positive number (got -1)"), ("fast", "--lr 'fast' is not a number")):
        code = main(
            [
                "bench",
                "quick",
                "--lr",
                text,
                "--out",
                str(tmp_path / "r" / "q.md"),
                "--runs-dir",
                str(tmp_path / "runs"),
            ]
        )
        assert code == 2 and message in capsys.readouterr().err
        assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_grid_recipe_defaults_to_the_small_budget_protocol_in_fp32():
    given = {"ema": "10,0.05", "lr": None, "amp": None, "preset": "tiny"}
    assert grid_recipe(given)["lr_g"] == 0.001 and "lr_g" not in grid_recipe({**given, "preset": "default"})
    assert grid_recipe(given)["amp"] == "off"  # fp32, the authors' precision, on every device
    assert grid_recipe({**given, "amp": "bf16"})["amp"] == "bf16"
    assert grid_recipe({**given, "lr": "preset"}).keys() == {"ema_halflife_kimg", "ema_rampup", "amp"}
