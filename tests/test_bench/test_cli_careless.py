"""The careless user, generated: every option of every command, walked from the Typer app, fed bad values of its type.

Each (command, option, value) must end in one of two ways. Refused: a non-zero exit, one stderr line that
names the option (or repeats the value), no traceback. Accepted: the command reaches the point where its
work would start (a write, a training grid, a feature pass, a profile) or exits 0. Acceptances are listed
in ACCEPTED below, each with its reason; anything else accepted is a failure. Either way nothing in the
temporary tree (inputs, outputs, the cache) changes. Work never starts: the first write and the expensive
entry points raise WorkWouldStart instead, so a command that writes before it has checked all its inputs
shows up as an unexpected acceptance. New commands and options are covered without editing this file
(a new command needs one valid, cheap baseline in `_baselines`). Values by type: numbers get empty,
negative, zero, text, huge (beyond 64 bits), a fraction, NaN and infinities; text gets empty, markup,
unicode with spaces and '-1'; paths get missing, a file, a folder, markup and unicode; a flag gets a value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
from clicheck import REPO, subprocess_env
from datafakes import write_pngs
from reportfakes import make_run

import ladagan
from bench.cli import app, main
from ladagan.presets import Preset
from ladagan.tf_config import architecture_from_config

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


class WorkWouldStart(BaseException):  # noqa: N818 - a signal, not an error; BaseException passes `except Exception`
    """Raised where a command's work would begin: every input was accepted."""


# Where work begins: the suite's write primitives (one way to write a file) and the expensive entry points.
WORK_STARTS = (
    "bench.core.files.atomic_write_bytes",
    "bench.core.files.append_line",
    "bench.core.rundir.RunDir.create",
    "bench.metrics.evaluate.evaluate_generator",
    "bench.metrics.reference.load_or_compute_reference",
    "bench.metrics.profile.profile_model",
    "bench.metrics.attention_scaling.attention_scaling",
    "bench.train.tf_checkpoint.read_variables",  # TensorFlow, in a subprocess
)


@dataclass(frozen=True)
class Layout:
    """The temporary tree every command runs in: inputs, a fake and a real run, outputs, the cache."""

    root: Path
    work: Path  # the working folder (commands resolve ./runs here)
    a_file: Path
    a_folder: Path
    runs: Path  # complete fabricated runs, for compare
    run: Path  # a real tiny stopped run with one snapshot, for eval
    out: Path
    images64: Path  # a folder of 64-px images (the data of the imported micro64 checkpoint)


def _baselines(lay: Layout) -> dict[str, tuple[list[str], list[str]]]:
    """Per command: (positional arguments, options) of a valid, cheap invocation that one bad value then spoils."""
    rc = ["--features", "random-conv"]
    grid = ["--kimg", "0.008", "--num-gen", "10", "--no-profile", *rc, "--device", "cpu"]
    grid += ["--runs-dir", str(lay.out / "grid"), "--out", str(lay.out / "rep" / "q.md")]
    grids = {name: ([], grid) for name in GRIDS}
    return {
        **grids,
        "models": ([], []),
        "train": (["ladagan"], ["--preset", "tiny", "--device", "cpu", "--dry-run"]),
        "eval": ([str(lay.run)], [*rc, "--metrics", "fid10_train", "--sample-seeds", "0", "--device", "cpu"]),
        "profile": (["ladagan"], ["--preset", "tiny", "--no-speed", "--device", "cpu"]),
        "compare": ([str(lay.runs)], ["--metric", "fid", "--out", str(lay.out / "cmp" / "c.md")]),
        "doctor": ([], []),
        "data prepare": (["fashion10k"], []),
        "data info": (["fashion10k"], []),
        "data list": ([], []),
        "data stats": (["fashion10k"], [*rc, "--num-ref", "10", "--device", "cpu"]),
        "bench status": ([str(lay.out / "grid")], []),
        "import authors": (
            [str(REPO / "tests" / "fixtures" / "tf_ladagan" / "micro64")],
            ["--preset", "micro64", "--data", f"folder:{lay.images64}@64", "--out", str(lay.out)],
        ),
    }


# Options that take effect only beside another one: the test gives that one too.
NEEDS = {
    ("profile", "--tokens"): ["--attention-scaling"],
    ("profile", "--dim"): ["--attention-scaling"],
    ("eval", "--inception"): ["--features", "inception"],
    ("data stats", "--inception"): ["--features", "inception"],
    ("eval", "--dinov2"): ["--features", "dinov2"],
}
DROPS = {  # baseline options a tested option replaces as a mode (profile --attention-scaling takes no model)
    ("profile", "--tokens"): ["ladagan", "--preset", "tiny", "--no-speed"],
    ("profile", "--dim"): ["ladagan", "--preset", "tiny", "--no-speed"],
    **{("profile", flag): ["--no-speed"] for flag in ("--batch", "--amp", "--repeats", "--warmup")},
}

ANY = "*"
NEW_PATH = {"missing": "created", "markup": "a valid name", "unicode": "a valid name"}
OUTPUT_FILE = {**NEW_PATH, "a-file": "overwritten"}
OUTPUT_FOLDER = {**NEW_PATH, "a-folder": "runs go inside"}
FREE_TEXT = {ANY: "free text: any string is a valid value"}
DATA_ROOT = {"a-folder": "an existing folder is a valid data root (the embedded fashion10k does not read it)"}

# The documented acceptances, in one place: (command, option) -> {value kind or '*': why it is fine}.
# A defect found here and not fixed yet goes in too, its reason starting "OPEN #<issue>:", until it is fixed.
ACCEPTED: dict[tuple[str, str], dict[str, str]] = {
    ("train", "--seed"): {"zero": "seed 0"},
    ("train", "--keep-snapshots"): {"zero": "0 keeps every snapshot"},
    ("train", "--r1-gamma"): {"zero": "0: no R1 penalty"},
    ("train", "--cr-weight"): {"zero": "0: bCR off"},
    ("train", "--ema-decay"): {"zero": "0: G_ema equals G"},
    ("train", "--out"): OUTPUT_FOLDER,
    ("train", "--data-root"): DATA_ROOT,
    ("eval", "--ci-groups"): {"zero": "0: no interval"},
    ("eval", "--sample-seeds"): {"negative": "a negative sample seed is a valid torch seed (latents only)"},
    ("profile", "--warmup"): {"zero": "0 warm-up calls"},
    ("profile", "--json"): OUTPUT_FILE,
    ("profile", "--csv"): OUTPUT_FILE,
    ("profile", "--preset"): {
        k: "an unknown preset is named inside profile_model (stubbed here), before any model is built"
        for k in ("markup", "unicode", "negative")
    },
    ("compare", "--title"): FREE_TEXT,
    ("doctor", "--data-root"): {ANY: "doctor reports, for each dataset, that it is not found there"},
    ("data list", "--data-root"): {ANY: "data list reports, for each dataset, that it is not found there"},
    ("data prepare", "--data-root"): DATA_ROOT,
    ("data info", "--data-root"): DATA_ROOT,
    ("data stats", "--data-root"): DATA_ROOT,
    ("data info", "--grid"): OUTPUT_FILE,
    ("import authors", "--out"): OUTPUT_FOLDER,
    ("import authors", "--data-root"): DATA_ROOT,
}
# Refusals that may not name the option: the environment lacks what reading the value needs.
ENVIRONMENT_LINES = {("eval", "--dinov2"): "needs timm"}
# By kind: a large float is a valid if unwise setting (a long budget, a strong penalty); it fails no check.
ACCEPTED_BY_KIND = {"float": {"huge": "a large float is a valid setting"}}


def _kind_of(param: Any) -> str:
    """'int', 'float', 'path', 'str' or 'flag' from the option's annotation (a list takes its item type)."""
    if getattr(param, "is_flag", False):
        return "flag"
    annotation = param.type_descriptor.annotation
    annotation = (get_args(annotation) or (annotation,))[0]
    if annotation is bool:
        return "flag"
    if annotation in (int, float):
        return annotation.__name__
    if annotation is Path or _names_a_path(param):
        return "path"
    return "str"


def _names_a_path(param: Any) -> bool:
    """A str option whose help speaks of a file or folder takes paths too."""
    help_text = (getattr(param, "help", None) or "").lower()
    return any(word in help_text for word in ("file", "folder", "directory", " path"))


def bad_values(kind: str, lay: Layout) -> dict[str, str]:
    """The careless values for an option of `kind`, by name (a flag gets a value it does not take)."""
    if kind == "flag":
        return {"given-a-value": "x"}
    numbers = {"empty": "", "negative": "-1", "zero": "0", "text": "abc", "huge": "1" + "0" * 20}
    if kind == "int":
        return {**numbers, "fraction": "0.5"}
    if kind == "float":
        return {**numbers, "nan": "nan", "inf": "inf", "-inf": "-inf"}
    text = {"empty": "", "markup": "x[/y]", "unicode": "ü ñ 字 ", "negative": "-1"}  # '-1': lists of numbers too
    if kind == "path":
        return {
            "empty": "",
            "missing": str(lay.root / "missing" / "x"),
            "a-file": str(lay.a_file),
            "a-folder": str(lay.a_folder),
            "markup": str(lay.root / "x[" / "y]"),
            "unicode": str(lay.root / "ü ñ" / "字"),
        }
    return text


def leaf_commands() -> list[tuple[str, Any]]:
    """(name path, click command) of every command the app runs, walked from the app itself."""
    found = []

    def walk(command: Any, path: list[str]) -> None:
        """Depth-first over groups."""
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found.append((" ".join(path), command))

    walk(typer.main.get_command(app), [])
    return found


GRIDS = [name for name, _ in leaf_commands() if name.startswith("bench ") and name != "bench status"]
for _grid in GRIDS:  # every grid protocol has the same options
    ACCEPTED.update(
        {
            (_grid, "--runs-dir"): {**NEW_PATH, "a-folder": "cells go inside"},
            (_grid, "--sample-seeds"): {"negative": "a negative sample seed is a valid torch seed (latents only)"},
        }
    )


def _fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Every file (size, mtime) and folder under `root`: equal means nothing was created or changed.

    Folder times are left out: a writability probe (a file made and removed at once) touches them.
    """
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (0, 0)
        for p in sorted(root.rglob("*"))
    }


def _remove_new(root: Path, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Delete what an invocation created under `root` (outermost first), so each value meets the same tree."""
    for name in sorted(set(after) - set(before), key=len):
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@dataclass
class Outcome:
    """What one invocation did."""

    accepted: bool
    code: int | None
    err: str
    crash: str | None


def _invoke(argv: list[str], capsys) -> Outcome:
    """Run the CLI in process; WorkWouldStart means every input was accepted."""
    crash, code, accepted = None, None, False
    try:
        code = main(argv)
        accepted = code == 0
    except WorkWouldStart:
        accepted = True
    except BaseException:  # noqa: BLE001 - any other escape is the traceback a user would see
        crash = traceback.format_exc(limit=-3)
    captured = capsys.readouterr()
    return Outcome(accepted, code, captured.err, crash)


@pytest.fixture(scope="module")
def layout(tmp_path_factory, stopped_run) -> Layout:
    """The tree, built once per module; each invocation checks that it stays as it was."""
    root = tmp_path_factory.mktemp("careless")
    lay = Layout(
        root,
        root / "work",
        root / "in" / "a-file",
        root / "in" / "a-folder",
        root / "in" / "runs",
        root / "in" / "run",
        root / "out",
        root / "in" / "images64",
    )
    for folder in (lay.work, lay.a_folder, lay.out):
        folder.mkdir(parents=True)
    lay.a_file.write_text("x\n")
    make_run(lay.runs, 0, "ladagan", 0, {2: 45.0, 4: 40.0}, 20.0)
    make_run(lay.runs, 1, "conv", 0, {2: 55.0, 4: 50.0}, 30.0)
    shutil.copytree(stopped_run, lay.run)
    write_pngs(lay.images64, [(i, 255 - i, 7 * i % 256) for i in range(4)], size=(64, 64))
    return lay


@pytest.fixture
def careless_env(layout, monkeypatch):
    """Run in the layout's working folder with its own cache; the places where work starts raise WorkWouldStart."""
    import importlib

    monkeypatch.chdir(layout.work)
    config = json.loads((REPO / "tests" / "fixtures" / "tf_ladagan" / "micro64" / "config.json").read_text())
    generator, discriminator = architecture_from_config(config)
    monkeypatch.setitem(
        ladagan.PRESETS,
        "micro64",
        Preset("micro64", generator.img_size, generator, discriminator, source="test fixture"),
    )
    monkeypatch.setenv("LADABENCH_NO_PROGRESS", "1")
    monkeypatch.setenv("COLUMNS", "400")

    def stop(*args: Any, **kwargs: Any) -> None:
        """The work would start here."""
        raise WorkWouldStart

    for dotted in WORK_STARTS:
        module_name, _, attr = dotted.rpartition(".")
        owner: Any
        try:
            owner = importlib.import_module(module_name)
        except ModuleNotFoundError:  # a class attribute: module.Class.method
            module_name, _, cls = module_name.rpartition(".")
            owner = getattr(importlib.import_module(module_name), cls)
        original = getattr(owner, attr)
        replacement = classmethod(stop) if isinstance(owner, type) else stop
        monkeypatch.setattr(owner, attr, replacement)
        for module in [m for name, m in sys.modules.items() if name.startswith("bench.") and m is not None]:
            for name, value in list(vars(module).items()):
                if value is original and module is not owner:
                    monkeypatch.setattr(module, name, stop)
    return layout


def _flag(param: Any) -> str:
    """How the user spells the parameter: its first option string, or the argument's name in capitals."""
    return param.opts[0] if param.param_type_name == "option" else param.name.upper()


def _problems(command_name: str, command: Any, lay: Layout, capsys) -> tuple[list[str], int]:
    """Every (option, value) of a command that ends neither refused nor accepted as documented; and the count tried."""
    positional, options = _baselines(lay)[command_name]
    problems, tried = [], 0
    for param in command.params:
        kind = _kind_of(param)
        flag = _flag(param)
        accepted_here = ACCEPTED.get((command_name, flag), {})
        either_way = ACCEPTED_BY_KIND.get(kind, {})  # accepted or refused: both are fine
        for value_name, value in bad_values(kind, lay).items():
            dropped = DROPS.get((command_name, flag), [])
            base = [a for a in options if a not in dropped]
            extra = NEEDS.get((command_name, flag), [])
            if param.param_type_name == "argument":  # after `--`, so that '-1' is not read as an option
                argv = [*command_name.split(), *base, *extra, "--", value]
            else:
                pos = [a for a in positional if a not in dropped]
                argv = [*command_name.split(), *base, *extra, f"{flag}={value}", "--", *pos]
            before = _fingerprint(lay.root)
            outcome = _invoke(argv, capsys)
            tried += 1
            where = f"{command_name} {flag}={value!r} ({value_name})"
            after = _fingerprint(lay.root)
            _remove_new(lay.root, before, after)  # a "missing" path must stay missing for the next value
            if outcome.accepted:  # an accepted command may make its output folder just before its first write
                before, after = ({k: v for k, v in d.items() if v != (0, 0)} for d in (before, after))
            if after != before:
                problems.append(f"{where}: changed {sorted(set(after.items()) ^ set(before.items()))[:3]}")
            if outcome.crash:
                problems.append(f"{where}: traceback\n{outcome.crash}")
                continue
            lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
            if value_name in either_way and value_name not in accepted_here:
                continue
            if outcome.accepted:
                if value_name not in accepted_here and ANY not in accepted_here:
                    problems.append(f"{where}: accepted (not in ACCEPTED)")
                continue
            if value_name in accepted_here:
                problems.append(f"{where}: refused, though ACCEPTED lists it: {lines}")
                continue
            names_it = any(
                flag in ln or f"'{value}'" in ln or (len(value.strip()) > 1 and value.strip() in ln) for ln in lines
            )
            names_it = names_it or any(ENVIRONMENT_LINES.get((command_name, flag), "\0") in ln for ln in lines)
            if len(lines) != 1 or not names_it:
                problems.append(f"{where}: exit {outcome.code}, stderr {lines}")
    return problems, tried


@pytest.mark.parametrize("command_name", [name for name, _ in leaf_commands()])
def test_every_option_refuses_careless_values(command_name, careless_env, capsys):
    command = dict(leaf_commands())[command_name]
    problems, tried = _problems(command_name, command, careless_env, capsys)
    assert not problems, f"{len(problems)} of {tried} careless values:\n" + "\n".join(problems)


def test_the_walk_covers_every_command_and_the_baselines_name_each(layout):
    names = [name for name, _ in leaf_commands()]
    assert set(names) == set(_baselines(layout)), "a new command needs a valid cheap baseline in _baselines"


# `bench status` takes one input, the runs folder, which each bad value replaces: no grid is needed.
@pytest.mark.parametrize("command_name", [name for name, _ in leaf_commands() if name != "bench status"])
def test_every_baseline_is_accepted(command_name, careless_env, capsys):
    positional, options = _baselines(careless_env)[command_name]
    outcome = _invoke([*command_name.split(), *options, "--", *positional], capsys)
    assert outcome.accepted and outcome.crash is None, outcome.err or outcome.crash  # else no bad value is judged


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (  # the path through fvcore, whose import used to print a FutureWarning first
            ["profile", "ladagan", "--preset", "tiny", "--res", "0"],
            "error: --res must be a positive whole number (got 0)",
        ),
        (
            ["train", "ladagan", "--seed", "abc"],
            "error: Invalid value for '--seed': Input should be a valid integer, unable to parse string as an "
            "integer; see `ladabench train --help`",
        ),
    ],
)
def test_a_real_process_prints_the_error_line_alone(argv, line, tmp_path):
    env = subprocess_env(LADABENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", *argv], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert (proc.returncode, proc.stderr.strip()) == (2, line)  # no warning line before it, nothing after
    assert os.listdir(tmp_path) == []
