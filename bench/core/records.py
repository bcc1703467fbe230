"""The typed records below the options: a stats.jsonl line, a metric-<name>.jsonl line, a profile row and its file.

Each record is the one owner of its field names: writers build it, readers get its attributes, and
`to_json`/`from_json` are the only places that spell the keys. Every record carries a schema
version; lines written before versions existed read as version 1 (the same fields), and keys a
record does not know (from other versions) are kept in `extra` and written back unchanged.

Example (a reader of a run's evaluations):

    for line in RunDir(path).metric_lines():
        if line.report_kind == FD_DINOV2_KIND:
            print(line.metric, line.value, line.ci95)
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bench.core.errors import UserError
from bench.core.files import atomic_write_json, read_json

STATS_SCHEMA = "ladabench.stats/1"
METRIC_SCHEMA = "ladabench.metric/1"
PROFILE_SCHEMA = "ladabench.profile/1"
SCALING_SCHEMA = "ladabench.attention-scaling/1"
DINOV2_FEATURES = "dinov2"  # FD-DINOv2 (Stein et al. 2023): FID's formula on DINOv2 features, a metric of its own
FD_DINOV2_KIND = "fid-dinov2"  # the report kind of FID lines computed on DINOv2 features
INIT_SNAPSHOT = "init"  # the `snapshot` of metric lines that measure G before any training step
# A metric line's protocol, flat under the names reports give it: every field that changes a value.
METRIC_PROTOCOL = (
    "metric",
    "num_gen",
    "num_ref",
    "sample_seeds",
    "features",
    "weights_sha256",
    "comparable",
    "resize_mode",
    "reference_hash",
    "reference_split",
    "cleanfid_version",
    "nearest_k",
)
_KIND_PREFIX = re.compile(r"[a-z]+")


def _known_and_extra(cls: type, payload: dict[str, Any], skip: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Split a JSON object into the keyword arguments a record declares and the keys it does not know."""
    names = {f.name for f in dataclasses.fields(cls) if f.name != "extra"} - set(skip)
    known = {k: v for k, v in payload.items() if k in names}
    extra = {k: v for k, v in payload.items() if k not in names and k not in skip and k != "schema"}
    return known, extra


@dataclass(frozen=True)
class StatsLine:
    """One stats.jsonl line: the counters, clocks and rank-averaged means of one training tick."""

    SCHEMA: ClassVar[str] = STATS_SCHEMA
    tick: int | None = None  # None: a line that did not record it
    step: int | None = None
    images_seen: int = 0
    kimg: float = 0.0
    wall_s: float | None = None  # training wall-clock seconds so far (None: imported weights)
    tick_s: float | None = None  # seconds of this tick's training
    img_per_sec: float | None = None
    loss_d: float | None = None  # None: every step of the tick was skipped by fp16 loss scaling
    loss_g: float | None = None
    r1: float | None = None
    cr: float | None = None
    grad_norm_d: float | None = None
    grad_norm_g: float | None = None
    amp_skipped_steps: int | None = None
    peak_mem_bytes: int | None = None
    imported: bool = False  # the line of a run imported from the authors' TensorFlow checkpoint
    extra: dict[str, Any] = field(default_factory=dict)

    _TRAINED_ONLY: ClassVar[tuple[str, ...]] = (
        "tick_s",
        "loss_d",
        "loss_g",
        "r1",
        "cr",
        "grad_norm_d",
        "grad_norm_g",
        "amp_skipped_steps",
        "peak_mem_bytes",
    )

    def to_json(self) -> dict[str, Any]:
        """The line as written: a trained tick has every field; an imported line only the counters."""
        out: dict[str, Any] = {"schema": self.SCHEMA}
        for f in dataclasses.fields(self):
            if f.name in ("extra", "imported") or (self.imported and f.name in self._TRAINED_ONLY):
                continue
            out[f.name] = getattr(self, f.name)
        if self.imported:
            out["imported"] = True
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> StatsLine:
        """A line as stored (any version); a ValueError when `images_seen` is missing or not a number."""
        known, extra = _known_and_extra(cls, payload)
        images_seen = payload.get("images_seen")
        if isinstance(images_seen, bool) or not isinstance(images_seen, (int, float)):
            raise ValueError(f"a stats line needs a numeric 'images_seen' (got {images_seen!r})")
        kimg = payload.get("kimg")
        return cls(
            **{
                **known,
                "images_seen": int(images_seen),
                "kimg": float(kimg) if isinstance(kimg, (int, float)) else images_seen / 1000,
                "imported": bool(payload.get("imported", False)),
            },
            extra=extra,
        )


@dataclass(frozen=True)
class MetricReference:
    """The reference set a metric line was computed against."""

    data: str | None = None
    split: str | None = None
    content_hash: str | None = None
    data_split: str | None = None
    selection: str | None = None
    cache: str | None = None  # "hit" or "computed"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The nested `reference` object."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, payload: dict[str, Any] | None) -> MetricReference:
        """The nested object as stored (absent: every field None)."""
        known, extra = _known_and_extra(cls, payload or {})
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class MetricLine:
    """One metric-<name>.jsonl line: a value, its spread and interval, and every protocol field that changes it."""

    SCHEMA: ClassVar[str] = METRIC_SCHEMA
    metric: str  # the full name, e.g. fid10k_train
    kind: str  # fid, kid or pr
    value: float
    std: float | None = None
    values_per_seed: list[float] = field(default_factory=list)
    unit: str | None = None
    # The 95% interval and how it was made (ci95 None: intervals switched off).
    ci95: list[float] | None = None
    ci_se: float | None = None
    ci_method: str | None = None
    ci_groups: int | None = None
    ci_seed: int | None = None
    # Kind-specific fields (absent from the lines of other kinds).
    feature_dim: int | None = None
    covariance_full_rank: bool | None = None
    kid_subsets_per_seed: int | None = None
    kid_subset_size: int | None = None
    kid_subset_rule: str | None = None
    components: dict[str, dict[str, Any]] | None = None  # pr: precision, recall, density, coverage
    nearest_k: int | None = None
    prdc_version: str | None = None
    # The protocol.
    num_gen: int | None = None
    num_ref: int | None = None
    seeds: list[int] = field(default_factory=list)
    reference: MetricReference = field(default_factory=MetricReference)
    resize_mode: str | None = None
    resize: str | None = None
    features: str | None = None
    features_description: str | None = None
    weights_sha256: str | None = None
    comparable: bool | None = None
    latents: str | None = None
    quantise: str | None = None
    cleanfid_version: str | None = None
    torch_version: str | None = None
    device: str | None = None
    elapsed_s: float | None = None
    # Which generator of which run.
    run: str | None = None
    model: str | None = None
    preset: str | None = None
    snapshot: str | None = None  # a snapshot file name, or INIT_SNAPSHOT (G before any step)
    kimg: float | None = None
    generator: str | None = None
    total_elapsed_s: float | None = None
    timestamp: str | None = None  # ISO 8601, UTC
    extra: dict[str, Any] = field(default_factory=dict)

    _WRITTEN_WHEN_SET: ClassVar[frozenset[str]] = frozenset(
        {
            "ci_se",
            "ci_seed",
            "feature_dim",
            "covariance_full_rank",
            "kid_subsets_per_seed",
            "kid_subset_size",
            "kid_subset_rule",
            "components",
            "nearest_k",
            "prdc_version",
            "run",
            "model",
            "preset",
            "snapshot",
            "kimg",
            "generator",
            "total_elapsed_s",
            "timestamp",
        }
    )

    def __str__(self) -> str:
        """The line as JSON (how the training log shows an evaluation)."""
        return json.dumps(self.to_json())

    @property
    def report_kind(self) -> str:
        """The kind a report groups by: FID on DINOv2 features is FD-DINOv2, never FID."""
        return FD_DINOV2_KIND if self.kind == "fid" and self.features == DINOV2_FEATURES else self.kind

    def protocol(self) -> dict[str, Any]:
        """The fields that change the value (N, reference set, seeds, network, resize), flat: `METRIC_PROTOCOL`."""
        values = (
            self.metric,
            self.num_gen,
            self.num_ref,
            ",".join(str(s) for s in self.seeds),
            self.features,
            self.weights_sha256,
            self.comparable,
            self.resize_mode,
            self.reference.content_hash,
            self.reference.split,
            self.cleanfid_version,
            self.nearest_k,
        )
        return dict(zip(METRIC_PROTOCOL, values, strict=True))

    def component(self, name: str) -> float | None:
        """The value of one part of a multi-part metric (pr: 'recall', ...), None when absent."""
        part = (self.components or {}).get(name)
        return None if part is None else part.get("value")

    def to_json(self) -> dict[str, Any]:
        """The line as written (kind-specific and run fields only when set)."""
        out: dict[str, Any] = {"schema": self.SCHEMA}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (value is None and f.name in self._WRITTEN_WHEN_SET):
                continue
            out[f.name] = value.to_json() if isinstance(value, MetricReference) else value
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> MetricLine:
        """A line as stored (any version); a ValueError unless it has a metric name and a numeric value."""
        metric, value = payload.get("metric"), payload.get("value")
        if not isinstance(metric, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"a metric line needs a 'metric' name and a numeric 'value' (got value {value!r})")
        known, extra = _known_and_extra(cls, payload)
        kind = payload.get("kind")
        if not isinstance(kind, str):  # lines before `kind` was recorded: the name's prefix (fid10k_train -> fid)
            match = _KIND_PREFIX.match(metric)
            kind = match[0] if match else metric
        return cls(
            **{
                **known,
                "kind": kind,
                "value": float(value),
                "reference": MetricReference.from_json(payload.get("reference")),
                "values_per_seed": list(payload.get("values_per_seed") or []),
                "seeds": list(payload.get("seeds") or []),
            },
            extra=extra,
        )

    def with_run(self, **fields: Any) -> MetricLine:
        """The same result with the fields saying which generator of which run it measured."""
        return dataclasses.replace(self, **fields)


@dataclass(frozen=True)
class PhaseTiming:
    """Speed and peak memory of one timed phase of a profile (generation or a training iteration)."""

    img_per_sec: float | None = None  # median over repeats
    img_per_sec_min: float | None = None
    img_per_sec_max: float | None = None
    sec_per_call_median: float | None = None
    repeats: int | None = None
    peak_alloc_bytes: int | None = None  # CUDA only
    peak_reserved_bytes: int | None = None  # CUDA only
    peak_rss_bytes: int | None = None  # CPU only
    mem_increase_bytes: int | None = None
    memory_note: str | None = None

    def to_json(self, prefix: str) -> dict[str, Any]:
        """Flat fields named `<prefix>_<field>` (as the profile file stores them)."""
        return {f"{prefix}_{f.name}": getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, payload: dict[str, Any], prefix: str) -> PhaseTiming:
        """The phase's fields out of a flat row."""
        return cls(**{f.name: payload.get(f"{prefix}_{f.name}") for f in dataclasses.fields(cls)})

    @classmethod
    def field_names(cls, prefix: str) -> tuple[str, ...]:
        """The flat keys of a phase (`gen_img_per_sec`, ...)."""
        return tuple(f"{prefix}_{f.name}" for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class ProfileSpeed:
    """The timed part of a profile row: settings, environment and both phases (absent with `--no-speed`)."""

    batch: int | None = None
    warmup: int | None = None
    device: str | None = None
    device_name: str | None = None
    cpu_threads: int | None = None
    cpu_count: int | None = None
    dtype: str | None = None  # "float32" or "<dtype> autocast"
    tf32_matmul: bool | None = None
    cudnn_benchmark: bool | None = None
    compile_g: bool = False
    torch_version: str | None = None
    timer: str | None = None
    gen: PhaseTiming = field(default_factory=PhaseTiming)
    train: PhaseTiming = field(default_factory=PhaseTiming)

    _PHASES: ClassVar[tuple[str, ...]] = ("gen", "train")

    def to_json(self) -> dict[str, Any]:
        """Flat fields as the profile file stores them."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._PHASES}
        return {**out, **self.gen.to_json("gen"), **self.train.to_json("train")}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every flat key of the timed part."""
        own = tuple(f.name for f in dataclasses.fields(cls) if f.name not in cls._PHASES)
        return own + PhaseTiming.field_names("gen") + PhaseTiming.field_names("train")

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> ProfileSpeed | None:
        """The timed part of a flat row, or None for a count-only row."""
        if payload.get("gen_img_per_sec") is None and payload.get("batch") is None:
            return None
        own = {f.name for f in dataclasses.fields(cls)} - set(cls._PHASES)
        return cls(
            **{k: payload[k] for k in own if k in payload},
            gen=PhaseTiming.from_json(payload, "gen"),
            train=PhaseTiming.from_json(payload, "train"),
        )


@dataclass(frozen=True)
class Roofline:
    """A profiled training step's counted FLOP/s against this device's measured matmul rate (`--roofline`)."""

    train_fraction_of_matmul_peak: float
    train_flops_per_sec: float | None = None
    roofline_dtype: str | None = None  # fp32 or bf16: which measured rate it is divided by
    matmul_peak_flops_per_sec: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Flat fields as the profile file stores them."""
        names = ("train_flops_per_sec", "roofline_dtype", "matmul_peak_flops_per_sec", "train_fraction_of_matmul_peak")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Roofline | None:
        """The roofline fields of a flat row, or None when the row has none."""
        if payload.get("train_fraction_of_matmul_peak") is None:
            return None
        return cls(**{f.name: payload.get(f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class ProfileRow:
    """One row of a profile file: a model at a preset, its operation counts and (when timed) its speed."""

    SCHEMA: ClassVar[str] = PROFILE_SCHEMA
    model: str
    preset: str
    resolution: int
    kind: str | None = None  # the model's family (ladagan, conv, ...)
    params_g: int | None = None
    params_d: int | None = None
    g_macs_per_image: int | None = None  # fvcore multiply-adds of one G forward pass
    g_flops_per_image: int | None = None  # 2 x MACs
    d_macs_per_image: int | None = None
    g_macs_by_op: dict[str, int] = field(default_factory=dict)
    train_flops_per_real_image: int | None = None
    r1_interval: int = 1
    units: str | None = None
    speed: ProfileSpeed | None = None
    roofline: Roofline | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _PARTS: ClassVar[tuple[str, ...]] = ("speed", "roofline", "extra")

    def to_json(self) -> dict[str, Any]:
        """The flat row as the profile file stores it (timed and roofline fields only when measured)."""
        out: dict[str, Any] = {"schema": self.SCHEMA}
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._PARTS})
        if self.speed is not None:
            out.update(self.speed.to_json())
        if self.roofline is not None:
            out.update(self.roofline.to_json())
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> ProfileRow:
        """A row as stored (any version); a ValueError when it does not name a model, preset and resolution."""
        try:
            model, preset, resolution = str(payload["model"]), str(payload["preset"]), int(payload["resolution"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a profile row needs 'model', 'preset' and 'resolution' ({exc!r})") from None
        timed = (*ProfileSpeed.field_names(), *(f.name for f in dataclasses.fields(Roofline)))
        known, extra = _known_and_extra(cls, payload, skip=(*cls._PARTS, *timed))
        return cls(
            **{**known, "model": model, "preset": preset, "resolution": resolution},
            speed=ProfileSpeed.from_json(payload),
            roofline=Roofline.from_json(payload),
            extra=extra,
        )

    @property
    def train_img_per_sec(self) -> float | None:
        """Training images per second (median), None for a count-only row."""
        return None if self.speed is None else self.speed.train.img_per_sec

    @classmethod
    def column(cls, name: str) -> str:
        """`name` checked to be a flat field of a row (a report column taken from profile files)."""
        fields = {f.name for f in dataclasses.fields(cls)} - set(cls._PARTS)
        fields |= {*ProfileSpeed.field_names(), *(f.name for f in dataclasses.fields(Roofline))}
        if name not in fields:
            raise KeyError(f"'{name}' is not a profile row field")
        return name


@dataclass(frozen=True)
class ProfileFile:
    """A `ladabench profile --json` file: model rows (with units and matmul peaks) or attention-scaling rows."""

    rows: list[ProfileRow] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)  # attention-scaling rows (one layer, token count)
    units: str | None = None
    roofline: dict[str, Any] | None = None  # the measured matmul peaks the roofline fields divide by

    def to_json(self) -> dict[str, Any]:
        """The document as written: a profile file, or an attention-scaling file when it holds scaling rows."""
        if self.scaling:
            return {"schema": SCALING_SCHEMA, "rows": self.scaling}
        out: dict[str, Any] = {"schema": PROFILE_SCHEMA}
        if self.units is not None:
            out["units"] = self.units
        out["rows"] = [row.to_json() for row in self.rows]
        if self.roofline is not None:
            out["roofline"] = self.roofline
        return out

    def write(self, path: Path) -> Path:
        """Write the file atomically (indented JSON); return its path."""
        atomic_write_json(Path(path), self.to_json())
        return Path(path)

    @classmethod
    def read(cls, path: Path) -> ProfileFile:
        """A profile or attention-scaling file; a UserError naming the file when it is neither."""
        payload = read_json(Path(path))
        schema = payload.get("schema") if isinstance(payload, dict) else None
        if schema == SCALING_SCHEMA:
            return cls(scaling=list(payload.get("rows", [])))
        if schema != PROFILE_SCHEMA:
            raise UserError(
                f"{path} is not a `ladabench profile --json` file (schema {schema!r}); "
                f"expected {PROFILE_SCHEMA} or {SCALING_SCHEMA}"
            )
        try:
            rows = [ProfileRow.from_json(row) for row in payload.get("rows", [])]
        except ValueError as exc:
            raise UserError(f"{path}: {exc}; regenerate it with `ladabench profile MODEL --json {path}`") from None
        return cls(rows=rows, units=payload.get("units"), roofline=payload.get("roofline"))
