"""`TrainOptions` is the one declaration of the training options: the CLI, options.json and resume agree with it."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
import typer

from bench.cli import app, main
from bench.commands.train import CLUSTER_OPTIONS, COMMAND_OPTIONS
from bench.core.errors import UserError
from bench.train.options import SCHEMA, TrainOptions, differences

# Fields the resolver derives (from the model, preset, data or process count): no flag sets them.
DERIVED = {
    "model_kind",
    "preset_source",
    "data_content_hash",
    "data_count",
    "resolution",
    "adam_eps",
    "world_size",
    "preset_config",
    "schema",
    "train_flops_per_image",  # counted in the commands layer for a --budget-tflops run
}
COMMAND_ONLY = {*COMMAND_OPTIONS, *CLUSTER_OPTIONS}  # the command's own: --resume, --force, ..., --executor, ...


def _train_params() -> dict[str, object]:
    """The click parameters of `ladabench train`, by name."""
    command = typer.main.get_command(app).commands["train"]
    return {p.name: p for p in command.params}


def test_every_option_with_a_flag_is_a_train_parameter_and_nothing_else_is():
    params = _train_params()
    declared = {f.name for f in fields(TrainOptions)}
    assert set(params) - COMMAND_ONLY == declared - DERIVED
    for f in fields(TrainOptions):
        flag = f.metadata["flag"]
        if flag is None:
            continue
        param = params[f.name]
        assert param.help == flag.help  # the help text lives in one place
        if flag.decl.startswith("--"):
            assert param.opts[0] == flag.decl.split("/")[0]


def test_help_lists_the_declared_flags(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--kimg", "--batch", "--r1-gamma", "--keep-snapshots", "--resume", "--procs"):
        assert flag in text


def test_dry_run_writes_the_schema_and_reads_back_equal(capsys):
    assert main(["train", "ladagan", "--preset", "tiny", "--kimg", "2", "--betas", "0.5,0.9", "--dry-run"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["schema"] == SCHEMA and stored["total_kimg"] == 2.0 and stored["betas"] == [0.5, 0.9]
    options = TrainOptions.from_json(stored)
    assert options.betas == (0.5, 0.9) and options.to_json() == stored


def test_options_written_before_the_schema_field_load_and_unknown_schemas_are_refused():
    old = {"model": "ladagan", "preset": "tiny32", "data": "fashion10k", "seed": 3, "betas": [0.5, 0.99]}
    assert TrainOptions.from_json(old).seed == 3  # no schema key: the fields of schema 1
    with pytest.raises(UserError, match="options schema 'ladabench.options/9'"):
        TrainOptions.from_json({**old, "schema": "ladabench.options/9"}, "runs/x/options.json")
    with pytest.raises(UserError, match="lacks model"):
        TrainOptions.from_json({"preset": "tiny32", "data": "fashion10k"})


def test_a_stored_dict_from_before_the_r1_interval_and_bcr_differs_only_in_what_changed(capsys):
    # The grid compares raw options.json dicts: an older run (no r1_interval, no bCR fields) must read
    # as what it did (R1 every step, no bCR), not as "null -> 1".
    assert main(["train", "ladagan", "--preset", "tiny", "--kimg", "2", "--dry-run"]) == 0
    stored = json.loads(capsys.readouterr().out)
    options = TrainOptions.from_json(stored)
    old = {k: v for k, v in stored.items() if k not in ("r1_interval", "bcr", "cr_weight")}
    old["preset_config"] = {
        **stored["preset_config"],
        "training": {k: v for k, v in stored["preset_config"]["training"].items() if k not in ("bcr", "cr_weight")},
    }
    assert options.r1_interval == 1 and options.bcr is False
    assert differences(old, options) == []
    assert differences(old, options.replace(r1_interval=4)) == ["r1_interval: 1 -> 4"]
