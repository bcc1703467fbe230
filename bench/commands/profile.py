"""`ladabench profile MODEL`: params, MACs, training FLOPs, img/s and peak memory; `--attention-scaling`."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bench.commands.common import DEVICE_HELP, checked_device, parse_int_list, refuse_unused, require_positive
from bench.core.console import console
from bench.core.errors import UserError
from bench.core.files import atomic_write_text
from bench.core.paths import require_writable_file
from bench.core.records import PhaseTiming, ProfileFile, ProfileRow, Roofline

UNITS_CAPTION = (
    "MACs = multiply-adds of one G forward pass per image (fvcore + attention handles); "
    "FLOPs = 2 x MACs (FlopCounterMode, math attention); train = D step with R1 (and the bCR pass where the "
    "preset uses bCR) + G step, per real image (--r1-interval K > 1: the mean over K iterations, R1 on one)"
)


def _si(value: float | None, unit: str = "") -> str:
    """1.23e9 -> '1.23 G' (with a unit); '-' for None."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".strip()


def _giga(value: float | None, unit: str) -> str:
    """An operation count in units of 10^9 ('0.760 GMAC'), so rows line up across models."""
    return "-" if value is None else f"{value / 1e9:.3f} G{unit}"


def _mib(value: int | None) -> str:
    """Bytes as MiB text ('-' for None)."""
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of flat rows (nested values JSON-encoded), columns in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return buffer.getvalue()


def _percent_of_peak(row: ProfileRow) -> str:
    """'3.1 % (fp32)': the step's counted FLOP/s over the measured matmul rate of its dtype."""
    if row.roofline is None:
        return "-"
    return f"{100 * row.roofline.train_fraction_of_matmul_peak:.2g} % ({row.roofline.roofline_dtype})"


def _speed_text(phase: PhaseTiming) -> str:
    """'12.3 (11.9-12.8)': median images per second and the range over repeats."""
    return f"{phase.img_per_sec:.1f} ({phase.img_per_sec_min:.1f}-{phase.img_per_sec_max:.1f})"


def _peak_text(phase: PhaseTiming) -> str:
    """Peak memory of a phase: CUDA bytes allocated on a GPU, the process's peak RSS on a CPU."""
    return _mib(phase.peak_alloc_bytes if phase.peak_alloc_bytes is not None else phase.peak_rss_bytes)


def _profile_table(rows: list[ProfileRow]) -> Table:
    """One line per profiled model/preset."""
    table = Table(title="ladabench profile", caption=UNITS_CAPTION)
    columns = (
        "model",
        "preset",
        "px",
        "params G",
        "params D",
        "G MACs/img",
        "G FLOPs/img",
        "train FLOPs/real img",
        "gen img/s",
        "train img/s",
        "peak mem gen",
        "peak mem train",
        "device",
    )
    roofline = any(r.roofline is not None for r in rows)
    columns += ("% of matmul peak",) if roofline else ()
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in rows:
        speed = r.speed if r.speed is not None and r.speed.gen.img_per_sec is not None else None
        lazy_r1 = f" (R1 every {r.r1_interval} iterations)" if r.r1_interval != 1 else ""
        device = "-"
        if speed is not None:
            threads = f", {speed.cpu_threads} threads" if speed.device == "cpu" else ""
            device = f"{speed.device} ({speed.device_name or ''}{threads}, batch {speed.batch}, {speed.dtype or ''})"
        table.add_row(
            r.model,
            r.preset + lazy_r1,
            str(r.resolution),
            f"{r.params_g:,}",
            f"{r.params_d:,}",
            _giga(r.g_macs_per_image, "MAC"),
            _giga(r.g_flops_per_image, "FLOP"),
            _giga(r.train_flops_per_real_image, "FLOP"),
            _speed_text(speed.gen) if speed else "-",
            _speed_text(speed.train) if speed else "-",
            _peak_text(speed.gen) if speed else "-",
            _peak_text(speed.train) if speed else "-",
            escape(device),
            *((_percent_of_peak(r),) if roofline else ()),
        )
    return table


def _roofline_line(peaks: dict[str, Any]) -> str:
    """The measured matmul rates the '% of matmul peak' column divides by."""
    return (
        f"matmul peak on {peaks['device']} ({peaks['threads']} threads, {peaks['matmul_size']}^2, best of "
        f"{peaks['matmul_repeats']}): fp32 {_si(peaks['matmul_fp32_flops_per_sec'], 'FLOP/s')}, "
        f"bf16 {_si(peaks['matmul_bf16_flops_per_sec'], 'FLOP/s')}"
    )


def _scaling_table(rows: list[dict[str, Any]]) -> Table:
    """One line per (layer, tokens) of the attention-scaling benchmark."""
    first = rows[0]
    table = Table(
        title=f"attention scaling: one layer, width {first['dim']}, {first['heads']} heads, batch {first['batch']}, "
        f"{first['device']} ({first['cpu_threads']} CPU threads)",
        caption="MACs per image (fvcore + SDPA/einsum handles); times: median (min) of repeats; memory: peak increase in the phase",
    )
    for column in ("layer", "tokens", "MACs/img", "fwd ms", "fwd+bwd ms", "mem fwd", "mem fwd+bwd"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["layer"],
            str(r["tokens"]),
            _si(r["macs_per_image"], "MAC"),
            f"{r['fwd_ms_median']:.2f} ({r['fwd_ms_min']:.2f})",
            f"{r['fwd_bwd_ms_median']:.2f} ({r['fwd_bwd_ms_min']:.2f})",
            _mib(r["fwd_mem_increase_bytes"]),
            _mib(r["fwd_bwd_mem_increase_bytes"]),
        )
    return table


def _targets(model: str, preset: str | None, res: int | None) -> list[tuple[str, str | None, int | None]]:
    """(model, preset, resolution) triples to profile: `all` models, comma-listed presets, 'default' = the resolution's default."""
    from bench.registry import (  # start-up: the zoo imports torch (see bench.commands.common)
        all_models,
        get_model,
    )

    names = list(all_models()) if model == "all" else [get_model(model).name]
    presets = [p.strip() for p in (preset or "").split(",") if p.strip()] or [None]
    targets = []
    for name in names:
        for p in presets:
            if p in (None, "default", "tiny"):
                resolution = 64 if res is None else res  # the authors' headline resolution when none is given
                targets.append((name, None if p in (None, "default") else "tiny", resolution))
            else:
                targets.append((name, p, res))
    return targets


def _model_rows(
    targets: list, settings: dict[str, Any], roofline: bool
) -> tuple[list[ProfileRow], dict[str, Any] | None]:
    """Profile rows of (model, preset, resolution) targets; with `roofline`, the matmul peaks measured first."""
    # start-up: the metrics layer imports torch and the models (see bench.commands.common)
    from bench.metrics.profile import profile_model
    from bench.metrics.roofline import measure_peaks, roofline_fields

    peaks = measure_peaks(settings["device"]) if roofline else None
    rows = []
    for name, preset_name, resolution in targets:
        label = preset_name or f"default at {resolution} px"
        console.print(escape(f"profiling {name} ({label}) on {settings['device']} ..."))
        row = profile_model(name, preset_name, resolution, **settings)
        if peaks is not None:
            row = dataclasses.replace(row, roofline=Roofline.from_json(roofline_fields(row.to_json(), peaks)))
        rows.append(row)
    return rows, peaks


def _checked_settings(
    device: str | None, repeats: int, warmup: int, threads: int | None, r1_interval: int, counts: dict[str, int | None]
) -> str:
    """The checked device; a UserError naming the flag for a repeat, warm-up, thread, interval or count out of range."""
    if repeats < 1 or warmup < 0:
        raise UserError("--repeats must be >= 1 and --warmup >= 0")
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads} must be at least 1")
    if r1_interval < 1:
        raise UserError(f"--r1-interval {r1_interval} must be at least 1 (1: R1 every iteration, the reference)")
    for option, value in counts.items():
        require_positive(option, value)
    return checked_device(device)


def _token_counts(text: str, dim: int) -> tuple[int, ...]:
    """--tokens as square token counts for a width that splits into the benchmark's attention heads."""
    from bench.metrics.attention_scaling import (
        SCALING_HEADS,  # start-up: torch (see bench.commands.common)
    )

    counts = tuple(parse_int_list(text, "--tokens", "64,256,1024"))
    if not counts:
        raise UserError("--tokens needs at least one token count, e.g. --tokens 64,256,1024")
    for count in counts:
        if count < 1 or math.isqrt(count) ** 2 != count:
            raise UserError(
                f"--tokens {count} is not a square number >= 1 (tokens form a square map, e.g. 64, 256, 1024)"
            )
    if dim % SCALING_HEADS:
        raise UserError(
            f"--dim {dim} does not split into {SCALING_HEADS} attention heads; pass a multiple of {SCALING_HEADS}, e.g. 256"
        )
    return counts


# Options each mode does not read: typing one is refused rather than silently ignored.
MODEL_ONLY = ["model", "preset", "res", "batch", "amp", "compile_g", "no_speed", "r1_interval", "roofline"]
SCALING_ONLY = ["tokens", "dim"]
SPEED_ONLY = ["batch", "amp", "compile_g", "repeats", "warmup"]  # --no-speed counts operations only


def profile_command(
    ctx: typer.Context,
    model: str = typer.Argument(None, help="Registered model name (see `ladabench models`), or 'all'."),
    preset: str = typer.Option(
        None, "--preset", help="Preset name, 'tiny', 'default', or a comma list (default: the resolution's default)."
    ),
    res: int = typer.Option(None, "--res", help="Resolution for 'default'/'tiny' presets (default 64)."),
    batch: int = typer.Option(
        None, "--batch", help="Batch for the speed runs (default: the preset's on GPU, 8 on CPU)."
    ),
    amp: str = typer.Option(
        "off",
        "--amp",
        help="Mixed precision for the speed runs, as `train --amp`: off (default), bf16 or fp16 (autocast).",
    ),
    compile_g: bool = typer.Option(False, "--compile", help="torch.compile the generator for the speed runs."),
    device: str = typer.Option(None, "--device", help=DEVICE_HELP),
    repeats: int = typer.Option(10, "--repeats", help="Timed repeats per phase (median and range reported)."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed warm-up calls per phase."),
    no_speed: bool = typer.Option(False, "--no-speed", help="Counts only (params, MACs, FLOPs); skip timing."),
    attention_scaling: bool = typer.Option(
        False,
        "--attention-scaling",
        help="Instead: benchmark one Lada, dot-product and grid attention layer over token counts.",
    ),
    tokens: str = typer.Option(
        "64,256,1024,4096", "--tokens", help="Token counts for --attention-scaling (square maps)."
    ),
    dim: int = typer.Option(256, "--dim", help="Width for --attention-scaling."),
    threads: int = typer.Option(
        None,
        "--threads",
        help="CPU threads for torch (default: torch's choice); 1 gives steadier CPU timings on a shared machine.",
    ),
    r1_interval: int = typer.Option(
        1,
        "--r1-interval",
        help="Lazy R1 as `train --r1-interval K`: count and time K iterations (R1 on one) per call (default 1: the reference step).",
    ),
    roofline: bool = typer.Option(
        False,
        "--roofline",
        help="Also measure this device's dense fp32 and bf16 matmul rate and report each step as a fraction of it.",
    ),
    json_path: Path = typer.Option(None, "--json", help="Also write the rows as JSON (read by `ladabench compare`)."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the rows as CSV."),
) -> None:
    """Cost of a model: params, G MACs per image, training FLOPs per real image, img/s and peak memory."""
    # start-up: torch and the metrics layer are imported only when profiling (see bench.commands.common)
    import torch

    from bench.metrics.attention_scaling import attention_scaling as run_scaling
    from bench.metrics.profile import amp_dtype_for

    if attention_scaling:
        refuse_unused(ctx, MODEL_ONLY, "with --attention-scaling (it times single attention layers)")
    else:
        refuse_unused(ctx, SCALING_ONLY, "without --attention-scaling")
        if no_speed:
            refuse_unused(ctx, SPEED_ONLY, "with --no-speed (it counts operations, it times nothing)")
    device = _checked_settings(
        device, repeats, warmup, threads, r1_interval, {"--res": res, "--batch": batch, "--dim": dim}
    )
    amp_dtype_for(amp)  # an unknown --amp fails here, before any model is built or timed
    for option, path in (("--json", json_path), ("--csv", csv_path)):
        if path is not None:
            require_writable_file(path, option)
    if threads is not None:
        torch.set_num_threads(threads)
    if attention_scaling:
        token_counts = _token_counts(tokens, dim)
        rows = run_scaling(token_counts, dim=dim, device=device, repeats=repeats, warmup=warmup)
        console.print(_scaling_table(rows))
        document = ProfileFile(scaling=rows)
        flat_rows = rows
    else:
        if model is None:
            raise UserError("give a MODEL to profile (see `ladabench models`), 'all', or --attention-scaling")
        if roofline and no_speed:
            raise UserError("--roofline compares timed steps with the matmul rate: drop --no-speed")
        targets = _targets(model, preset, res)
        rows, peaks = _model_rows(
            targets,
            dict(
                batch=batch,
                amp=amp,
                compile_g=compile_g,
                device=device,
                repeats=repeats,
                warmup=warmup,
                measure_speed=not no_speed,
                r1_interval=r1_interval,
            ),
            roofline,
        )
        console.print(_profile_table(rows))
        if peaks is not None:
            console.print(_roofline_line(peaks))
        document = ProfileFile(rows=rows, units=UNITS_CAPTION, roofline=peaks)
        flat_rows = [row.to_json() for row in rows]
    if json_path:
        document.write(json_path)
        console.print(f"wrote {escape(str(json_path))}")
    if csv_path:
        atomic_write_text(csv_path, rows_to_csv(flat_rows))
        console.print(f"wrote {escape(str(csv_path))}")


def register(app: typer.Typer) -> None:
    """Attach `profile` to the app."""
    app.command("profile")(profile_command)
