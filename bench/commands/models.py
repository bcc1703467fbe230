"""`ladabench models`: list what the registry holds, with exact parameter counts."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from bench.core.console import console


def build_for_counting(spec, preset):
    """Build (G, D) on the meta device (shapes only, no init cost), else fall back to a real build."""
    import torch  # start-up: torch is imported only when listing (see bench.commands.common)

    try:
        with torch.device("meta"):
            return spec.build(preset)
    except Exception:  # a builder that needs real tensors still gets counted, only slower
        return spec.build(preset)


def models_command(
    model: str = typer.Argument(None, help="Show only this model's presets."),
    sources: bool = typer.Option(
        False, "--sources", help="Add each preset's provenance (authors' config or our choice)."
    ),
) -> None:
    """List registered models (built-in and from installed plugins) and their presets with G and D parameter counts."""
    from bench.metrics.profile import count_params  # start-up: imports torch (see bench.commands.common)
    from bench.registry import (  # start-up: the zoo imports torch (see bench.commands.common)
        all_models,
        get_model,
    )

    specs = {model: get_model(model)} if model else all_models()
    if not specs:
        console.print("No models are registered yet.")
        return
    table = Table(title="Registered models", show_lines=False)
    for col in ("model", "package", "kind", "preset", "res (px)", "G params", "D params"):
        numeric = "params" in col or "res" in col
        table.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    if sources:
        table.add_column("source", overflow="fold")
    for spec in specs.values():
        for preset_name, preset in spec.presets.items():
            g, d = build_for_counting(spec, preset)
            row = [
                escape(spec.name),
                escape(spec.package),
                escape(spec.kind),
                escape(preset_name),
                str(preset.resolution),
                f"{count_params(g):,}",
                f"{count_params(d):,}",
            ]
            table.add_row(*row, *([escape(preset.source)] if sources else []))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach `models` to the app."""
    app.command("models")(models_command)
