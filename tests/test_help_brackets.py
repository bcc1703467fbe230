"""User-visible text keeps its square brackets (rich reads `[tf]` as a style tag), and a normal start warns nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from bench.cli import app, main
from bench.core.console import exit_code_of
from bench.core.errors import UserError

REPO = Path(__file__).resolve().parents[1]
BRACKETED = re.compile(r"\S*\[[^\]\s]+\]\S*")  # a word with a bracketed part: 'ladabench[tf]', PATH[@RES]


def command_paths(command, path=()) -> list[tuple[tuple[str, ...], object]]:
    """Every command of the Click tree with the words that invoke it."""
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += command_paths(sub, (*path, name))
    return found


def source_help_texts(command) -> list[str]:
    """The help texts a command was defined with (before any escaping)."""
    return [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]


def rendered_help(path: tuple[str, ...], capsys) -> str:
    """What `ladabench PATH --help` prints, with rich's line wrapping and panel borders undone."""
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    return " ".join(out.replace("│", " ").split())


def test_every_bracketed_word_in_help_survives_rendering(capsys):
    checked = 0
    for path, command in command_paths(typer.main.get_command(app)):
        words = {w.strip("`'\".,;:()") for text in source_help_texts(command) for w in BRACKETED.findall(text)}
        if not words:
            continue
        out = rendered_help(path, capsys)
        for word in words:
            assert word in out, f"'ladabench {' '.join(path)} --help' lost {word!r}"
            checked += 1
    assert checked >= 2  # at least 'ladabench[tf]' (import authors) and PATH[@RES] (train --data)


def test_import_authors_help_names_the_tf_extra(capsys):
    assert "pip install 'ladabench[tf]'" in rendered_help(("import", "authors"), capsys)


def test_help_texts_are_escaped_on_a_fresh_tree_each_call(capsys):
    # main() builds the Click tree per call: escaping twice would print a backslash before the bracket.
    first = rendered_help(("import", "authors"), capsys)
    second = rendered_help(("import", "authors"), capsys)
    assert first == second and "\\[" not in second


def test_error_messages_keep_brackets(capsys):
    def fail() -> None:
        raise UserError("FD-DINOv2 needs timm; install it with `pip install 'ladabench[dinov2]'`")

    assert exit_code_of(fail) != 0
    assert "pip install 'ladabench[dinov2]'" in capsys.readouterr().err


def test_doctor_keeps_brackets_in_paths(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache[a]"
    cache.mkdir()
    monkeypatch.setenv("LADABENCH_CACHE", str(cache))
    assert main(["doctor"]) == 0
    assert "cache[a]" in capsys.readouterr().out


def quiet_env() -> dict[str, str]:
    """The user's environment: no PYTHONWARNINGS and none of pytest's warning filters."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return {**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


@pytest.mark.parametrize(
    "args",
    [["--help"], ["train", "ladagan", "--preset", "tiny", "--kimg", "1", "--dry-run"], ["profile", "--help"]],
    ids=["help", "train-dry-run", "profile-help"],
)
def test_a_normal_start_prints_no_warning(args, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", *args],
        capture_output=True,
        text=True,
        env=quiet_env(),
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr + proc.stdout, proc.stderr


@pytest.mark.slow
def test_counting_flops_prints_no_warning(tmp_path):
    # The command that imports fvcore, whose import used to print torch.jit.script's FutureWarning.
    args = ["profile", "ladagan", "--preset", "tiny", "--res", "32", "--no-speed", "--threads", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, env=quiet_env(), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr + proc.stdout, proc.stderr


def test_other_future_warnings_still_show():
    # The filter is narrow: importing the FLOP counter must not hide an unrelated FutureWarning.
    code = "import warnings, bench.metrics.flops; warnings.warn('torch.jit.trace is odd', FutureWarning)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=quiet_env())
    assert "FutureWarning: torch.jit.trace is odd" in proc.stderr
