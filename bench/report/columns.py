"""The report's column registry: what `--metric` names, where each value comes from, how it is shown.

Quality columns come from the quality-metric registry (`bench.metrics.registry`); cost columns from
`ladabench profile` files; speed, memory and time from each run's stats.jsonl.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.core.errors import UserError
from bench.core.records import DINOV2_FEATURES, FD_DINOV2_KIND, ProfileRow
from bench.metrics.registry import QUALITY_METRICS


@dataclass(frozen=True)
class Column:
    """One `--metric` name: its data column, header, source and display scale."""

    key: str  # what `--metric` accepts
    column: str  # the DataFrame column
    header: str
    source: str  # "metric" (final metric lines), "profile" (profile files) or "run" (stats.jsonl)
    lower_is_better: bool
    scale: tuple[float, str] | None = None  # (divisor, unit prefix) for display; the CSV keeps raw units
    companions: tuple[str, ...] = ()  # keys shown with this one (a reader needs both halves)
    companion_only: bool = False  # not offered on its own in the list of known names
    kind: str | None = None  # the metric-line kind whose final value fills it (source "metric")


_profile = ProfileRow.column  # a profile file's field, checked at import (a typo fails at once)
_COST_AND_SPEED = (
    Column("macs", _profile("g_macs_per_image"), "G MACs/img", "profile", True, (1e6, "M")),
    Column("flops", _profile("g_flops_per_image"), "G FLOPs/img", "profile", True, (1e6, "M"), ("train-flops",)),
    Column("train-flops", _profile("train_flops_per_real_image"), "train FLOPs/real img", "profile", True, (1e9, "G")),
    Column("params", _profile("params_g"), "G params", "profile", True, (1e6, "M"), ("params-d",)),
    Column("params-d", _profile("params_d"), "D params", "profile", True, (1e6, "M"), companion_only=True),
    Column("imgs-per-sec", "train_img_per_sec", "train img/s", "run", False),
    # From a `profile --roofline` file: the profiled step's counted FLOP/s over the measured matmul rate.
    Column(
        "matmul-peak",
        _profile("train_fraction_of_matmul_peak"),
        "profiled step / matmul peak",
        "profile",
        False,
        (0.01, "%"),
    ),
    Column("peak-mem", "peak_mem_mib", "peak mem (MiB)", "run", True),
    Column("device-hours", "train_hours", "train hours", "run", True),
)
PRDC_PARTS = ("recall", "density", "coverage")  # shown with precision (`--metric pr`), from the same lines
_QUALITY_PARTS = (
    Column("pr", "precision", QUALITY_METRICS["pr"].header, "metric", False, companions=PRDC_PARTS, kind="pr"),
    *(Column(part, part, f"{part} (k=3)", "metric", False, companion_only=True, kind="pr") for part in PRDC_PARTS),
    # FD-DINOv2 lines are FID lines on DINOv2 features (`eval --features dinov2`): their own column, never FID's.
    Column("fd-dinov2", "fd_dinov2", "FD-DINOv2", "metric", True, kind=FD_DINOV2_KIND),
)
COLUMNS: dict[str, Column] = {
    **{
        kind: Column(kind, kind, m.header, "metric", m.lower_is_better, kind=kind)
        for kind, m in QUALITY_METRICS.items()
    },
    **{c.key: c for c in (*_QUALITY_PARTS, *_COST_AND_SPEED)},
}
ALIASES = {"gpu-hours": "device-hours"}  # the old name (it counted CPU hours on a CPU too)
DEFAULT_METRICS = "fid,kid,macs,train-flops,params,imgs-per-sec,peak-mem,device-hours"


def parse_metric_list(text: str) -> list[str]:
    """`fid,kid,macs` -> the column keys, in order, companions added; a UserError lists known names."""
    keys: list[str] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        part = ALIASES.get(part, part)
        if part not in COLUMNS:
            known = ", ".join(k for k, c in COLUMNS.items() if not c.companion_only)
            raise UserError(f"--metric '{part}' is unknown; known: {known}")
        for key in (part, *COLUMNS[part].companions):
            if key not in keys:
                keys.append(key)
    if not keys:
        raise UserError("--metric is empty; pass e.g. --metric fid,kid,macs,imgs-per-sec")
    return keys


def quality_kinds(keys: list[str]) -> list[str]:
    """The metric-line kinds behind the quality columns among `keys`, in column order, each once."""
    return list(dict.fromkeys(COLUMNS[k].kind for k in keys if COLUMNS[k].kind))


def eval_hint(kind: str) -> str:
    """The `ladabench eval` arguments that write lines of `kind`."""
    return f"fid --features {DINOV2_FEATURES}" if kind == FD_DINOV2_KIND else kind
