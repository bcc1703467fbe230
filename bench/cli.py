"""The `ladabench` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from bench.errors import UserError

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="ladabench",
    help="Train, measure and compare LadaGAN and baseline GANs under identical budgets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    """Attach every command module to the app (imports kept here so `--help` lists them all)."""
    from bench.commands import bench, compare, data, doctor, evaluate, models, profile, train

    models.register(app)
    data.register(app)
    train.register(app)
    evaluate.register(app)
    profile.register(app)
    compare.register(app)
    bench.register(app)
    doctor.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, turning a UserError into a message and exit code.

    Typer handles usage errors and `--help` itself (standalone mode, exits via SystemExit); a
    UserError raised by a command is a mistake the user can fix, so it gets no traceback.
    """
    try:
        app(args=argv, prog_name="ladabench")
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err_console.print(str(exc.code))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
