"""`ladabench profile MODEL`: params, MACs, training FLOPs, img/s and peak memory; `--attention-scaling`."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bench.commands.common import checked_device, parse_int_list, refuse_unused
from bench.core.console import console
from bench.core.errors import UserError
from bench.core.files import atomic_write_text
from bench.core.options import (
    AMP,
    BATCH,
    DEVICE,
    PRESET,
    R1_INTERVAL,
    THREADS,
    Flag,
    at_least,
    check_fields,
    command_signature,
    option,
    positive_count,
)
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
        caption="MACs per image (fvcore + SDPA/einsum handles); times: median (min) of repeats; "
        "memory: peak increase in the phase",
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
    """Targets (model, preset, resolution) to profile: `all` models, comma-listed presets, 'default' per resolution."""
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
            f"--dim {dim} does not split into {SCALING_HEADS} attention heads; "
            f"pass a multiple of {SCALING_HEADS}, e.g. 256"
        )
    return counts


# Options each mode does not read: typing one is refused rather than silently ignored.
MODEL_ONLY = ["model", "preset", "res", "batch", "amp", "compile_g", "no_speed", "r1_interval", "roofline"]
SCALING_ONLY = ["tokens", "dim"]
SPEED_ONLY = ["batch", "amp", "compile_g", "repeats", "warmup"]  # --no-speed counts operations only


@dataclass(frozen=True)
class ProfileOptions:
    """What `ladabench profile` measures and where it writes it; each value is checked when this is built."""

    model: str | None = option(None, Flag("model", "Registered model name (see `ladabench models`), or 'all'."))
    preset: str | None = option(
        None, PRESET.but(help="Preset name, 'tiny', 'default', or a comma list (default: the resolution's default).")
    )
    res: int | None = option(
        None, Flag("--res", "Resolution for 'default'/'tiny' presets (default 64).", int, positive_count)
    )
    batch: int | None = option(
        None, BATCH.but(help="Batch for the speed runs (default: the preset's on GPU, 8 on CPU).")
    )
    amp: str = option("off", AMP.but(help="Mixed precision for the speed runs, as `train --amp`: off, bf16 or fp16."))
    compile_g: bool = option(False, Flag("--compile", "torch.compile the generator for the speed runs.", bool))
    device: str | None = option(None, DEVICE)
    repeats: int = option(
        10, Flag("--repeats", "Timed repeats per phase (median and range reported).", int, positive_count)
    )
    warmup: int = option(2, Flag("--warmup", "Untimed warm-up calls per phase.", int, at_least(0)))
    no_speed: bool = option(False, Flag("--no-speed", "Counts only (params, MACs, FLOPs); skip timing.", bool))
    attention_scaling: bool = option(
        False,
        Flag(
            "--attention-scaling",
            "Instead: benchmark one Lada, dot-product and grid attention layer over token counts.",
            bool,
        ),
    )
    tokens: str = option("64,256,1024,4096", Flag("--tokens", "Token counts for --attention-scaling (square maps)."))
    dim: int = option(256, Flag("--dim", "Width for --attention-scaling.", int, positive_count))
    threads: int | None = option(None, THREADS.but(help=THREADS.help + " 1 gives steadier CPU timings."))
    r1_interval: int = option(
        1,
        R1_INTERVAL.but(help="Lazy R1 as `train --r1-interval K`: count and time K iterations (R1 on one) per call."),
    )
    roofline: bool = option(
        False,
        Flag(
            "--roofline",
            "Also measure this device's dense fp32 and bf16 matmul rate and report each step as a fraction of it.",
            bool,
        ),
    )
    json_path: Path | None = option(
        None, Flag("--json", "Also write the rows as JSON (read by `ladabench compare`).", Path)
    )
    csv_path: Path | None = option(None, Flag("--csv", "Also write the rows as CSV.", Path))

    def __post_init__(self) -> None:
        """Check every value (the table's checks)."""
        check_fields(self)


def profile_command(ctx: typer.Context, **given: Any) -> None:
    """Cost of a model: params, G MACs per image, training FLOPs per real image, img/s and peak memory."""
    # start-up: torch and the metrics layer are imported only when profiling (see bench.commands.common)
    import torch

    from bench.metrics.attention_scaling import attention_scaling as run_scaling

    o = ProfileOptions(**given)
    if o.attention_scaling:
        refuse_unused(ctx, MODEL_ONLY, "with --attention-scaling (it times single attention layers)")
    else:
        refuse_unused(ctx, SCALING_ONLY, "without --attention-scaling")
        if o.no_speed:
            refuse_unused(ctx, SPEED_ONLY, "with --no-speed (it counts operations, it times nothing)")
    device = checked_device(o.device)
    for flag, path in (("--json", o.json_path), ("--csv", o.csv_path)):
        if path is not None:
            require_writable_file(path, flag)
    if o.threads is not None:
        torch.set_num_threads(o.threads)
    if o.attention_scaling:
        token_counts = _token_counts(o.tokens, o.dim)
        rows = run_scaling(token_counts, dim=o.dim, device=device, repeats=o.repeats, warmup=o.warmup)
        console.print(_scaling_table(rows))
        document = ProfileFile(scaling=rows)
        flat_rows = rows
    else:
        if o.model is None:
            raise UserError("give a MODEL to profile (see `ladabench models`), 'all', or --attention-scaling")
        if o.roofline and o.no_speed:
            raise UserError("--roofline compares timed steps with the matmul rate: drop --no-speed")
        targets = _targets(o.model, o.preset, o.res)
        rows, peaks = _model_rows(
            targets,
            dict(
                batch=o.batch,
                amp=o.amp,
                compile_g=o.compile_g,
                device=device,
                repeats=o.repeats,
                warmup=o.warmup,
                measure_speed=not o.no_speed,
                r1_interval=o.r1_interval,
            ),
            o.roofline,
        )
        console.print(_profile_table(rows))
        if peaks is not None:
            console.print(_roofline_line(peaks))
        document = ProfileFile(rows=rows, units=UNITS_CAPTION, roofline=peaks)
        flat_rows = [row.to_json() for row in rows]
    if o.json_path:
        document.write(o.json_path)
        console.print(f"wrote {escape(str(o.json_path))}")
    if o.csv_path:
        atomic_write_text(o.csv_path, rows_to_csv(flat_rows))
        console.print(f"wrote {escape(str(o.csv_path))}")


profile_command.__signature__ = command_signature(  # Typer reads the options from the table above
    ProfileOptions, {"ctx": (typer.Context, inspect.Parameter.empty)}
)


def register(app: typer.Typer) -> None:
    """Attach `profile` to the app."""
    app.command("profile")(profile_command)
