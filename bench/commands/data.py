"""`ladabench data ...`: prepare named datasets into the cache, inspect them, compute reference statistics."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bench.commands.common import checked_device
from bench.core.console import console
from bench.core.errors import UserError, WriteError
from bench.core.interrupt import interrupt_with
from bench.core.options import BATCH, DATA_ROOT, DEVICE, FEATURES, INCEPTION
from bench.core.paths import require_writable_file
from bench.data import DEFAULT_DATASET, load_dataset
from bench.data.grid import sample_grid, save_grid
from bench.data.registry import ENTRIES, status_rows

NAME_HELP = (
    "Dataset name: fashion10k (embedded default), fashion-mnist, cifar10, celeba64 "
    "(celeba64:crop=L,T,R,B for another crop box), ffhq128, ffhq256, lsun-bedroom128, "
    "lsun-bedroom256, or folder:PATH@RES (default 64 px)."
)

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
    table.add_row(
        "hash mode",
        f"{meta.get('hash_mode')} over {meta.get('source_files')} file(s), {meta.get('source_bytes', 0):,} bytes",
    )
    table.add_row(
        "skipped files",
        f"{meta.get('skipped_count', 0)}" + (f" e.g. {meta['skipped'][:3]}" if meta.get("skipped") else ""),
    )
    table.add_row(
        "prepared",
        f"{meta.get('prepared_at')} in {meta.get('prepare_seconds')} s ({meta.get('prepare_img_per_sec')} img/s)",
    )
    return table


@data_app.command("prepare")
def prepare_command(
    name: str = typer.Argument(DEFAULT_DATASET, help=NAME_HELP, show_default=True),
    data_root: str = DATA_ROOT.param(None),
    strict: bool = typer.Option(False, "--strict", help="Fail on an unreadable image file instead of skipping it."),
) -> None:
    """Decode a dataset once into the cache (no-op when already prepared) and summarise it."""
    with interrupt_with(
        f"interrupted; the dataset cache was not written (nothing partial is left); "
        f"rerun `ladabench data prepare {name}` to prepare it"
    ):
        ds = load_dataset(name, data_root=data_root, strict=strict)
    console.print(_summary_table(ds, f"prepared {ds.name}"))


@data_app.command("info")
def info_command(
    name: str = typer.Argument(DEFAULT_DATASET, help=NAME_HELP, show_default=True),
    data_root: str = DATA_ROOT.param(None),
    grid: Path = typer.Option(
        None, "--grid", help="Where to write a PNG grid of 64 samples (default: beside the cache file)."
    ),
    speed: bool = typer.Option(
        False, "--speed", help="Also measure the loader: random batches of 128 -> float tensors, img/s."
    ),
) -> None:
    """Show count, resolution, content hash, cache path, source and preprocessing; write a sample grid."""
    if grid is not None:
        require_writable_file(grid, "--grid")  # a folder given for the PNG fails before the dataset is read
    ds = load_dataset(name, data_root=data_root)
    table = _summary_table(ds, f"dataset {ds.name}")
    try:
        scale = 2 if ds.resolution <= 32 else 1  # small images enlarged x2, to be visible
        path = save_grid(grid or ds.cache_path.with_suffix(".grid.png"), sample_grid(ds.images), scale)
        table.add_row("sample grid", str(path))
    except WriteError:
        if grid is not None:  # the path the user asked for: an error; the default beside a read-only cache: a note
            raise
        table.add_row("sample grid", "not written (the cache folder is read-only); pass --grid PATH")
    if speed:
        # start-up: torch is imported only when needed (see bench.commands.common)
        from bench.data.loader import measure_loader_img_per_sec
        from bench.train.resolve import default_device

        device = default_device()
        rate = measure_loader_img_per_sec(ds.images, batch_size=128, device=device)
        gather = measure_loader_img_per_sec(ds.images, batch_size=128, convert=False)
        table.add_row("loader speed", f"{rate:,.0f} img/s (random batches of 128 -> float32 [-1,1] on {device})")
        table.add_row("gather only", f"{gather:,.0f} img/s (uint8 batches from the memmap, CPU)")
    console.print(table)


@data_app.command("list")
def list_command(data_root: str = DATA_ROOT.param(None)) -> None:
    """List the named datasets and whether their files are found here."""
    table = Table(title="datasets")
    for column in ("name", "found", "about", "detail"):
        table.add_column(column, overflow="fold")
    for name, found, detail in status_rows(data_root):
        table.add_row(
            name, "[green]yes[/]" if found else "[yellow]no[/]", escape(ENTRIES[name].summary), escape(detail)
        )
    table.add_row("folder:PATH@RES", "-", "any image folder, centred square crop, default 64 px", "")
    console.print(table)


@data_app.command("stats")
def stats_command(
    name: str = typer.Argument(..., help="Dataset name as for `ladabench data prepare` (e.g. fashion10k)."),
    num_ref: int = typer.Option(
        10_000,
        "--num-ref",
        help="Reference images (a fixed seeded subset; all when the set is smaller). "
        "Match the metric's N: fid10k -> 10000.",
    ),
    data_root: str = DATA_ROOT.param(None),
    inception: str = INCEPTION.param(None),
    features: str = FEATURES.param("inception"),
    device: str = DEVICE.param(None),
    batch: int = BATCH.but(help="Batch size for the feature network.").param(50),
) -> None:
    """Precompute reference features and statistics (mean, covariance) of a dataset into the cache."""
    # start-up: the metrics layer is imported only when needed (see bench.commands.common)
    from bench.metrics.features import load_feature_extractor
    from bench.metrics.reference import load_or_compute_reference

    if num_ref < 2:
        raise UserError(f"--num-ref {num_ref} is too small; FID needs at least 2 reference images")
    BATCH.checked(batch)
    device = checked_device(device)
    dataset = load_dataset(name, data_root=data_root)
    extractor = load_feature_extractor(features, device=device, inception=inception)
    ref = load_or_compute_reference(dataset, num_ref, extractor, device, batch)
    table = Table(title=escape(f"reference statistics {dataset.name}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for field, value in (
        ("status", "reused cached features" if ref.cache_hit else ref.cache_state),
        ("images", f"{ref.count:,} of {dataset.count:,} ({ref.meta['selection']})"),
        ("content hash", dataset.content_hash),
        ("features", f"{extractor.description}, sha256 {extractor.weights_sha256}"),
        ("resize", ref.meta["resize"]),
        ("cache file", str(ref.cache_path)),
    ):
        table.add_row(field, escape(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach the `data` command group to the app."""
    app.add_typer(data_app, name="data")
