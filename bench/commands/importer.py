"""`ladabench import authors CKPT_DIR`: the authors' released TensorFlow checkpoints as ladabench runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from bench.core.console import console
from bench.core.options import DATA, DATA_ROOT, PRESET, RUNS_OUT
from bench.core.paths import RUNS_DIR, require_writable_folder

import_app = typer.Typer(help="Import checkpoints trained elsewhere as ladabench runs.", no_args_is_help=True)


@import_app.command("authors")
def authors_command(
    ckpt_dir: Path = typer.Argument(
        ...,
        help="A dataset folder from the Hub repo milmor/LadaGAN (e.g. cifar10/), its best-training-checkpoints/ "
        "folder, or a ckpt-N prefix.",
    ),
    preset: str = PRESET.but(
        help="ladagan preset to build (default: the one matching the checkpoint's config.json)."
    ).param(None),
    data: str = DATA.but(
        help="Dataset the run is evaluated against (default: the preset's: cifar10, celeba64, ffhq128)."
    ).param(None),
    data_root: str = DATA_ROOT.param(None),
    out: Path = RUNS_OUT.param(Path(RUNS_DIR)),
) -> None:
    """Convert G, G_ema and D of an authors' checkpoint (needs `pip install 'ladabench[tf]'`) into a new run."""
    # start-up: the training layer (torch) is imported only when the command runs (see bench.commands.common)
    from bench.train.import_authors import import_authors

    require_writable_folder(out, "--out")  # before the checkpoint (gigabytes, through TensorFlow) is read
    run = import_authors(
        ckpt_dir, out, preset_name=preset, data=data, data_root=data_root, log=lambda msg: console.print(escape(msg))
    )
    console.print(f"wrote {escape(str(run.path))}")
    console.print(f"evaluate it with: ladabench eval {escape(str(run.path))} --metrics fid50k_train")


def register(app: typer.Typer) -> None:
    """Attach the `import` group to the app."""
    app.add_typer(import_app, name="import")
