"""The `ladabench` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from bench.commands import bench, compare, data, doctor, evaluate, importer, models, profile, train
from bench.core.console import escape_help, exit_code_of
from bench.core.errors import UserError
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
            command = checked_values(escape_help(typer.main.get_command(app)))
            try:
                code = command.main(args=argv, prog_name="ladabench", standalone_mode=False)
            except Exception as exc:  # noqa: BLE001 - only Click's own errors are turned into lines below
                raise _usage_error(exc) from None
            if code:  # typer.Exit(N) from a command, returned in non-standalone mode
                raise SystemExit(code)

    return exit_code_of(run)


INT64_MAX = 2**63 - 1  # torch and numpy hold whole numbers in 64 bits; a larger one fails deep inside them


def checked_values(command: Any) -> Any:
    """Make every option and argument of a Click command tree refuse an empty value and an integer beyond 64 bits.

    Typer would turn '' into Path('.') or quietly into the default, and pass 10**20 on to numpy or torch,
    which fail with a traceback; the rule lives here, where the tree is built, not in each command.
    """
    for param in getattr(command, "params", []):
        param.process_value = _checked(param, param.process_value)
    for sub in getattr(command, "commands", {}).values():
        checked_values(sub)
    return command


def _checked(param: Any, process: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`param.process_value` that first refuses an empty value typed by the user, then an out-of-range integer."""
    name = param.opts[0] if param.param_type_name == "option" else param.name.upper()

    def process_value(ctx: Any, value: Any) -> Any:
        """Check the raw value, convert it as Click does, check the result."""
        typed = ctx.get_parameter_source(param.name).name in ("COMMANDLINE", "ENVIRONMENT")
        raw = value if isinstance(value, (tuple, list)) else (value,)
        if typed and any(isinstance(v, str) and not v.strip() for v in raw):
            raise UserError(f"{name} is empty; pass a value, or leave {name} out for its default")
        result = process(ctx, value)
        for v in result if isinstance(result, (tuple, list)) else (result,):
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > INT64_MAX:
                raise UserError(f"{name} {v} is out of range; pass a whole number below 2**63")
        return result

    return process_value


def _usage_error(exc: Exception) -> BaseException:
    """A Click usage error (bad type, unknown option, missing argument) as one line; any other error as it is.

    Typer would print a usage line, a hint line and a boxed message: five lines for one mistake.
    Click's classes are matched by name, as Typer itself does (it vendors its own copy of Click).
    """
    names = [c.__name__ for c in type(exc).__mro__]
    if "ClickException" not in names:
        return exc
    if "NoArgsIsHelpError" in names:  # the help was printed; exit as Click does
        return SystemExit(2)
    ctx = getattr(exc, "ctx", None)
    hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
    return UserError(exc.format_message().rstrip(".") + hint)


if __name__ == "__main__":
    sys.exit(main())
