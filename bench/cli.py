"""The `ladabench` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from bench.commands import bench, compare, data, doctor, evaluate, importer, models, profile, train
from bench.core.console import exit_code_of

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
    return exit_code_of(lambda: app(args=argv, prog_name="ladabench"))


if __name__ == "__main__":
    sys.exit(main())
