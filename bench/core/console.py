"""The two rich consoles every command prints to, and the one way a command's errors become an exit code."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench.core.errors import UserError

PIPE_WIDTH = 240  # without a terminal rich assumes 80 columns and squeezes wide tables into wrapped cells


def _console(stderr: bool) -> Console:
    """A console that keeps tables readable in a pipe or a log (wide unless $COLUMNS says otherwise)."""
    probe = Console(stderr=stderr)
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(stderr=stderr, width=PIPE_WIDTH)


console = _console(stderr=False)
err_console = _console(stderr=True)


def escape_help(command: Any) -> Any:
    """Escape rich markup in every help text of a Click command tree, so `[tf]` or `PATH[@RES]` print as written.

    Typer renders help through rich markup, which reads any `[word]` as a style tag and drops it; help
    texts are plain text, so they are escaped here, where the tree is built, instead of at each definition.
    """
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, escape(text))
    for param in getattr(command, "params", []):
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        escape_help(sub)
    return command


def exit_code_of(run: Callable[[], object]) -> int:
    """Run a command body; a UserError becomes its message and exit code, with no traceback.

    Typer handles usage errors and `--help` itself (standalone mode, exits via SystemExit); a
    UserError is a mistake the user can fix, so it gets one line naming the fix.
    """
    try:
        run()
    except UserError as exc:
        label = f"[bold red]{exc.label}:[/] " if exc.label else ""
        err_console.print(label + escape(str(exc)), soft_wrap=True)  # one line, however long the path
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except OSError as exc:
        if exc.filename is None:
            raise
        # An OS refusal no command turned into its own message (a path that cannot be read or written).
        err_console.print(
            f"[bold red]error:[/] {escape(f'{exc.filename}: {exc.strerror}')}; check the path and its permissions",
            soft_wrap=True,
        )
        return 1
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err_console.print(escape(str(exc.code)))
        return 1
    return 0
