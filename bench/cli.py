"""The `ladabench` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from bench.commands import bench, compare, data, doctor, evaluate, importer, models, profile, train
from bench.core.console import escape_help, exit_code_of
from bench.core.interrupt import interrupt_with

INTERRUPTED = "interrupted; nothing partial was written (every file is written whole); rerun the command to finish"

app = typer.Typer(
    name="ladabench",
    help="Train, measure and compare LadaGAN and baseline GANs under identical budgets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    """Attach every command module to the app, in the order `--help` lists them."""
    models.register(app)
    data.register(app)
    train.register(app)
    evaluate.register(app)
    profile.register(app)
    compare.register(app)
    bench.register(app)
    doctor.register(app)
    importer.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app; a UserError becomes a message and an exit code."""

    def run() -> None:
        """The app, with a clean line on Ctrl-C (train, eval, bench and data prepare install their own)."""
        with interrupt_with(INTERRUPTED):
            escape_help(typer.main.get_command(app))(args=argv, prog_name="ladabench")

    return exit_code_of(run)


if __name__ == "__main__":
    sys.exit(main())
