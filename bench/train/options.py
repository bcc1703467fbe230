"""`TrainOptions`: the one typed record of how a run is trained, its defaults, help text and JSON form.

Every field is declared once below with its default and its `--help` line; the `ladabench train`
signature is generated from these declarations (`bench.commands.train`), the resolver fills them
(`bench.train.resolve`), `options.json` stores them with a schema version, and resume, evaluation
and reports read them back through `TrainOptions.from_json`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import typing
from dataclasses import dataclass, fields
from typing import Any

from bench.core import options as table
from bench.core.errors import UserError
from bench.core.options import (
    AMP,
    BATCH,
    DATA,
    DATA_ROOT,
    DEVICE,
    PRESET,
    R1_INTERVAL,
    RUNS_OUT,
    SEED,
    Flag,
    at_least,
    check_fields,
    in_range,
    one_of,
    positive,
)
from bench.core.paths import RUNS_DIR
from bench.train.stored import check_stored

SCHEMA = "ladabench.options/1"
EMA_STARTS = ("fresh", "copy")  # G_ema from a freshly initialised G (the authors' TF trainer) or from G itself
# What runs written before a field existed did: such a file loads with these values (no bCR, G_ema copied from G).
LEGACY_VALUES = {"bcr": False, "cr_weight": 0.1, "ema_start": "copy"}
LEGACY_OPTIONS = {"r1_interval": 1}  # the same for fields of the run alone (not of the preset's recipe)
FROM_PRESET = "preset"  # `default=` marker: the value comes from the preset's training recipe


_STORED = contextvars.ContextVar("stored", default=False)  # building options read back from a run: no checks


def positive_kimg(flag: str, value: float) -> str | None:
    """A positive budget or interval in kimg of at least one image (images are counted: kimg x 1000)."""
    problem = positive(flag, value)
    if problem is None and round(value * 1000) < 1:
        return f"{flag} {value:g} is less than one image (budgets count images: kimg x 1000); pass at least 0.001"
    return problem


def option(
    default: Any = None,
    flag: Flag | None = None,
    *,
    session: bool = False,
    protocol: bool = False,
    recipe: bool = False,
    inherited: bool = True,
) -> Any:
    """Declare one TrainOptions field (`bench.core.options.option` with the training metadata).

    `default`: the value when the user gives none (None: derived by the resolver, see its docstring);
    `flag`: its CLI spelling, help and check (shared ones from `bench.core.options`); `session`: it may
    change on resume (describes one session, not the run); `protocol`: reports refuse to compare runs
    that differ in it; `recipe`: its default is the preset training recipe's field of the same name;
    `inherited=False`: a resumed session does not take the stored value but the one given now (or the default).
    """
    meta = {"session": session, "protocol": protocol, "recipe": recipe, "inherited": inherited}
    return table.option(default, flag, **meta)


@dataclass(frozen=True)
class TrainOptions:
    """The fully resolved options of one run (what options.json holds); units in the names."""

    model: str = option(
        flag=Flag("MODEL", "Registered model to train (see `ladabench models`). Not needed with --resume.")
    )
    model_kind: str | None = option()
    preset: str | None = option(flag=PRESET)
    preset_source: str | None = option()
    data: str | None = option(flag=DATA, protocol=True)
    data_root: str | None = option(flag=DATA_ROOT, session=True)
    data_content_hash: str | None = option(protocol=True)
    data_count: int | None = option()
    resolution: int | None = option(protocol=True)
    seed: int = option(0, SEED)
    batch_size: int | None = option(
        FROM_PRESET,
        BATCH.but(help="Batch size for both D and G steps (default: the preset's).", check=positive),
        recipe=True,
        protocol=True,
    )
    total_kimg: float | None = option(
        flag=Flag(
            "--kimg",
            "Budget in thousands of real images shown to D (training stops exactly there).",
            float,
            positive_kimg,
        ),
        protocol=True,
    )
    budget_tflops: float | None = option(
        flag=Flag(
            "--budget-tflops",
            "Budget in training TFLOPs instead of --kimg: stops at the first image count whose images x training "
            "FLOPs per real image (counted as `ladabench profile` does, for this model, preset and recipe) reach it.",
            float,
        ),
        protocol=True,
    )
    train_flops_per_image: int | None = option()  # the count a --budget-tflops run was budgeted with (commands layer)
    minutes: float | None = option(
        flag=Flag(
            "--minutes",
            "Wall-clock budget in minutes, summed over resumed sessions; with --kimg the first reached stops.",
            float,
            positive,
        )
    )
    lr_g: float | None = option(
        FROM_PRESET, Flag("--lr-g", "Adam learning rate of G (default: the preset's).", float, positive), recipe=True
    )
    lr_d: float | None = option(
        FROM_PRESET, Flag("--lr-d", "Adam learning rate of D (default: the preset's).", float, positive), recipe=True
    )
    betas: tuple[float, float] | None = option(
        FROM_PRESET, Flag("--betas", "Adam betas as B1,B2 (default: the preset's, reference 0.5,0.99)."), recipe=True
    )
    adam_eps: float | None = option(FROM_PRESET, recipe=True)
    r1_gamma: float | None = option(
        FROM_PRESET,
        Flag(
            "--r1-gamma",
            "R1 weight on mean ||grad of sum(D(aug(x)))||^2 (default: the preset's; reference 1e-4).",
            float,
            at_least(0),
        ),
        recipe=True,
    )
    r1_interval: int = option(1, R1_INTERVAL, protocol=True)
    ema_decay: float | None = option(
        FROM_PRESET,
        Flag(
            "--ema-decay",
            "G_ema decay per step (default: the preset's; reference 0.999). Unused with --ema-halflife-kimg.",
            float,
            in_range(0, 1),
        ),
        recipe=True,
        protocol=True,
    )
    ema_halflife_kimg: float | None = option(
        None,
        Flag(
            "--ema-halflife-kimg",
            "G_ema half-life in kimg of real images instead of a per-step decay (StyleGAN2-ADA's ema_kimg; "
            "off by default).",
            float,
            positive,
        ),
        protocol=True,
    )
    ema_rampup: float | None = option(
        None,
        Flag(
            "--ema-rampup",
            "With --ema-halflife-kimg: cap the half-life at this fraction of the images seen so far "
            "(StyleGAN2-ADA's ema_rampup, e.g. 0.05).",
            float,
            positive,
        ),
        protocol=True,
    )
    ema_start: str | None = option(
        FROM_PRESET,
        Flag(
            "--ema-start",
            "How G_ema starts: fresh (a freshly initialised G, as the authors' TF trainer; the presets' default) "
            "or copy (G's own weights, as their PyTorch port).",
            str,
            one_of(*EMA_STARTS),
        ),
        recipe=True,
        protocol=True,
    )
    augment: str | None = option(
        FROM_PRESET,
        Flag("--augment", "DiffAugment policy: parts of color,translation,cutout, or none (default: the preset's)."),
        recipe=True,
        protocol=True,
    )
    bcr: bool | None = option(
        FROM_PRESET,
        Flag(
            "--bcr/--no-bcr",
            "Balanced consistency regularisation: D sees un-augmented images plus a consistency loss on "
            "augmented copies (default: the preset's; on for ffhq128).",
            bool,
        ),
        recipe=True,
        protocol=True,
    )
    cr_weight: float | None = option(
        FROM_PRESET,
        Flag(
            "--cr-weight",
            "Weight of the bCR consistency loss (default: the preset's; reference 0.1).",
            float,
            at_least(0),
        ),
        recipe=True,
        protocol=True,
    )
    amp: str = option("off", AMP.but(help=AMP.help.rstrip(".") + " (with loss scaling)."), protocol=True)
    compile: bool = option(
        False,
        Flag("--compile/--no-compile", "torch.compile G (D stays eager: R1 needs a double backward).", bool),
        session=True,
    )
    deterministic: bool = option(
        False,
        Flag(
            "--deterministic/--no-deterministic",
            "Deterministic kernels: bitwise-repeatable runs and resumes (slower on GPU).",
            bool,
        ),
    )
    device: str | None = option(flag=DEVICE, session=True, protocol=True, inherited=False)
    tick_kimg: float | None = option(
        flag=Flag(
            "--tick-kimg",
            "Interval of stats lines and progress updates in kimg (default: ~1/10 of the budget, at most 4).",
            float,
            positive,
        )
    )
    snapshot_kimg: float = option(
        200.0,
        Flag(
            "--snapshot-kimg",
            "Snapshot interval in kimg (default 200; a final snapshot is always written).",
            float,
            positive,
        ),
    )
    keep_snapshots: int = option(
        3,
        Flag(
            "--keep-snapshots",
            "Keep only the newest K snapshots (default 3; 0 keeps all); the newest is never removed.",
            int,
            at_least(0, "0 keeps every snapshot"),
        ),
        session=True,
    )
    world_size: int = option(1, session=True)
    eval_kimg: float | None = option(
        flag=Flag(
            "--eval-kimg",
            "Evaluate --metrics every this many kimg (default: at every snapshot) and at the end.",
            float,
            positive,
        )
    )
    metrics: tuple[str, ...] = option(
        (), Flag("--metrics", "Comma-separated metrics to evaluate during training, e.g. fid500_train.")
    )
    stop_kimg: float | None = option(
        flag=Flag(
            "--stop-kimg",
            "End this session after this many kimg with a snapshot; the budget stays for --resume.",
            float,
            positive_kimg,
        ),
        session=True,
        inherited=False,
    )
    out: str = option(RUNS_DIR, RUNS_OUT, session=True)
    trackers: tuple[str, ...] = option(
        (),
        Flag(
            "--tracker",
            "Mirror stats, metrics and sample grids to tensorboard and/or wandb (comma-separated; default: none). "
            "A resumed run keeps its trackers unless this is given.",
        ),
        session=True,
    )
    preset_config: dict[str, Any] | None = option()
    schema: str = option(SCHEMA)

    def __post_init__(self) -> None:
        """Check every flagged value (options read back from a run are taken as they were trained)."""
        if not _STORED.get():
            check_fields(self)

    # ----- JSON form (options.json, snapshots, --dry-run) ------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Plain JSON values in declaration order (tuples as lists)."""
        return json.loads(json.dumps({f.name: getattr(self, f.name) for f in fields(self)}))

    @classmethod
    def from_json(cls, stored: dict[str, Any], where: str = "options.json") -> TrainOptions:
        """Options read back from JSON; a file of an unknown schema or missing fields is a one-line UserError.

        Files written before the schema field existed hold the same fields as schema 1 and load as it;
        fields added since (bCR, the EMA start, the R1 interval) load with what those runs did (`LEGACY_VALUES`).
        """
        schema = stored.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise UserError(
                f"{where} has options schema {schema!r}; this ladabench reads {SCHEMA!r}: "
                "use the ladabench version that wrote the run, or train it again"
            )
        known = {f.name: f for f in fields(cls)}
        missing = [name for name, f in known.items() if name not in stored and f.default is None and name in _REQUIRED]
        if missing:
            raise UserError(f"{where} lacks {', '.join(missing)}; it was not written by `ladabench train`")
        values = {name: value for name, value in _with_legacy_values(stored).items() if name in known}
        check_stored(values, typing.get_type_hints(cls), where)
        token = _STORED.set(True)
        try:
            return cls(**_typed(values))
        finally:
            _STORED.reset(token)

    def replace(self, **changes: Any) -> TrainOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_REQUIRED = ("model", "preset", "data")  # a run's identity; other missing fields read as None (not given)


def _with_legacy_values(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored options with the fields added since they were written set to what their run did (top level and recipe)."""
    values = {**LEGACY_VALUES, **LEGACY_OPTIONS, **stored}
    config = values.get("preset_config")
    if isinstance(config, dict) and isinstance(config.get("training"), dict):
        values["preset_config"] = {**config, "training": {**LEGACY_VALUES, **config["training"]}}
    return values


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples the dataclass holds."""
    out = dict(values)
    for name in ("betas", "metrics"):
        if out.get(name) is not None:
            out[name] = tuple(out[name])
    return out


def option_fields(**wanted: bool) -> list[dataclasses.Field]:
    """TrainOptions fields whose metadata matches, e.g. `option_fields(session=True)`."""
    return [f for f in fields(TrainOptions) if all(bool(f.metadata.get(k)) == v for k, v in wanted.items())]


SESSION_KEYS = frozenset(f.name for f in option_fields(session=True))
PROTOCOL_KEYS = tuple(f.name for f in option_fields(protocol=True))
CLI_FIELDS = tuple(table.flag_fields(TrainOptions))


def differences(stored: TrainOptions | dict[str, Any], fresh: TrainOptions | dict[str, Any]) -> list[str]:
    """Human-readable 'key: old -> new' lines for every non-session option that differs.

    A stored dict written before a field existed reads as what its run did (`LEGACY_VALUES`), so an
    older run is not told apart from a new one with the same settings.
    """
    old_all = stored.to_json() if isinstance(stored, TrainOptions) else _with_legacy_values(stored)
    new_all = fresh.to_json() if isinstance(fresh, TrainOptions) else _with_legacy_values(fresh)
    return _dict_differences(old_all, new_all, SESSION_KEYS | {"schema"})


def _dict_differences(stored: dict[str, Any], fresh: dict[str, Any], skip: frozenset[str] | set[str]) -> list[str]:
    """`differences` on plain dicts, recursing into nested ones."""
    lines = []
    for key in sorted(set(stored) | set(fresh)):
        if key in skip:
            continue
        old, new = json.loads(json.dumps(stored.get(key))), json.loads(json.dumps(fresh.get(key)))
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            lines += [f"{key}.{line}" for line in _dict_differences(old, new, set())]
        else:
            lines.append(f"{key}: {json.dumps(old)} -> {json.dumps(new)}")
    return lines
