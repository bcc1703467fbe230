"""`ladabench data ...`: prepare named datasets into the cache and inspect them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bench.data import DEFAULT_DATASET

NAME_HELP = (
    "Dataset name: fashion10k (embedded default), fashion-mnist, cifar10, celeba64 "
    "(celeba64:crop=L,T,R,B for another crop box), ffhq128, ffhq256, lsun-bedroom128, "
    "lsun-bedroom256, or folder:PATH@RES (default 64 px)."
)
ROOT_HELP = "Folder holding downloaded datasets (default: $LADABENCH_DATA)."

data_app = typer.Typer(
    help="Prepare and inspect datasets: decoded once into a memory-mapped uint8 cache, keyed by a content hash.",
    no_args_is_help=True,
)


def _summary_table(ds, title: str) -> Table:
    """Rows describing a prepared dataset (count, resolution, hash, cache, source, preprocessing)."""
    meta = ds.meta
    table = Table(title=escape(title), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    # Paths and file names may contain brackets, which rich would read as markup.
    table.add_row = lambda field, value, _add=table.add_row: _add(field, escape(value))
    table.add_row("images", f"{ds.count:,}")
    table.add_row("resolution", f"{ds.resolution}x{ds.resolution} RGB uint8")
    table.add_row("content hash", ds.content_hash)
    table.add_row("cache", f"{ds.cache_path} ({ds.cache_path.stat().st_size / 2**20:,.1f} MiB)")
    table.add_row("source", str(meta.get("source")))
    table.add_row("split", str(meta.get("split")))
    table.add_row("preprocessing", json.dumps(meta.get("preprocessing"), sort_keys=True))
    table.add_row("hash mode", f"{meta.get('hash_mode')} over {meta.get('source_files')} file(s), {meta.get('source_bytes', 0):,} bytes")
    table.add_row("skipped files", f"{meta.get('skipped_count', 0)}" + (f" e.g. {meta['skipped'][:3]}" if meta.get("skipped") else ""))
    table.add_row("prepared", f"{meta.get('prepared_at')} in {meta.get('prepare_seconds')} s ({meta.get('prepare_img_per_sec')} img/s)")
    return table


@data_app.command("prepare")
def prepare_command(
    name: str = typer.Argument(DEFAULT_DATASET, help=NAME_HELP, show_default=True),
    data_root: str = typer.Option(None, "--data-root", help=ROOT_HELP),
    strict: bool = typer.Option(False, "--strict", help="Fail on an unreadable image file instead of skipping it."),
) -> None:
    """Decode a dataset once into the cache (no-op when already prepared) and summarise it."""
    from bench.core.console import console
    from bench.data import load_dataset

    ds = load_dataset(name, data_root=data_root, strict=strict)
    console.print(_summary_table(ds, f"prepared {ds.name}"))


@data_app.command("info")
def info_command(
    name: str = typer.Argument(DEFAULT_DATASET, help=NAME_HELP, show_default=True),
    data_root: str = typer.Option(None, "--data-root", help=ROOT_HELP),
    grid: Path = typer.Option(None, "--grid", help="Where to write a PNG grid of 64 samples (default: beside the cache file)."),
    speed: bool = typer.Option(False, "--speed", help="Also measure the loader: random batches of 128 -> float tensors, img/s."),
) -> None:
    """Show count, resolution, content hash, cache path, source and preprocessing; write a sample grid."""
    from bench.core.console import console
    from bench.data import load_dataset
    from bench.data.grid import save_grid

    ds = load_dataset(name, data_root=data_root)
    table = _summary_table(ds, f"dataset {ds.name}")
    grid_path = save_grid(ds.images, grid or ds.cache_path.with_suffix(".grid.png"))
    table.add_row("sample grid", str(grid_path))
    if speed:
        import torch

        from bench.data.loader import measure_loader_img_per_sec

        device = "cuda" if torch.cuda.is_available() else "cpu"
        rate = measure_loader_img_per_sec(ds.images, batch_size=128, device=device)
        gather = measure_loader_img_per_sec(ds.images, batch_size=128, convert=False)
        table.add_row("loader speed", f"{rate:,.0f} img/s (random batches of 128 -> float32 [-1,1] on {device})")
        table.add_row("gather only", f"{gather:,.0f} img/s (uint8 batches from the memmap, CPU)")
    console.print(table)


@data_app.command("list")
def list_command(data_root: str = typer.Option(None, "--data-root", help=ROOT_HELP)) -> None:
    """List the named datasets and whether their files are found here."""
    from bench.core.console import console
    from bench.data.registry import ENTRIES, status_rows

    table = Table(title="datasets")
    for column in ("name", "found", "about", "detail"):
        table.add_column(column, overflow="fold")
    for name, found, detail in status_rows(data_root):
        table.add_row(name, "[green]yes[/]" if found else "[yellow]no[/]", escape(ENTRIES[name].summary), escape(detail))
    table.add_row("folder:PATH@RES", "-", "any image folder, centred square crop, default 64 px", "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach the `data` command group to the app."""
    app.add_typer(data_app, name="data")
