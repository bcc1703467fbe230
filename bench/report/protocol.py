"""The comparison protocol: which fields must match for rows to share a table, and the refusal when they do not."""

from __future__ import annotations

import pandas as pd

from bench.core.errors import UserError
from bench.core.records import METRIC_PROTOCOL
from bench.train.options import PROTOCOL_KEYS

# Training protocol ("Fair comparison" in the design; docs/metrics.md): the TrainOptions fields declared `protocol=True`
# (budget, data + preprocessing, batch, augmentation, precision, device kind). Learning rates, R1 weight
# and architecture may differ: they are what the models and ablations are about.
TRAINING_FIELDS = PROTOCOL_KEYS
# Metric protocol: every field that changes an FID/KID value (N, reference set, seeds, network, resize).
METRIC_FIELDS = METRIC_PROTOCOL
INTERVAL_FIELDS = ("ci_groups",)  # reported with the protocol; a different count does not refuse


def _device_kind(device: object) -> str:
    """'cuda:1' -> 'cuda' (the GPU index is not part of the protocol; its kind is)."""
    return str(device).split(":")[0]


def differing_fields(frame: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """Fields of `fields` with more than one value in `frame`, each with its distinct values (as text)."""
    found = {}
    for field in fields:
        if field not in frame:
            continue
        values = frame[field].map(lambda v: "-" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
        distinct = sorted(values.unique())
        if len(distinct) > 1:
            found[field] = distinct
    return found


def _describe(frame: pd.DataFrame, differences: dict[str, list[str]], by: str) -> str:
    """Human text: each differing field with its values and which rows carry each value."""
    parts = []
    for field, values in differences.items():
        shown = []
        for value in values:
            rows = frame[
                frame[field].map(lambda v: "-" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
                == value
            ]
            names = sorted(rows[by].astype(str).unique())
            more = f" +{len(names) - 3} more" if len(names) > 3 else ""
            shown.append(f"{value!r} ({', '.join(names[:3])}{more})")
        parts.append(f"{field}: " + " vs ".join(shown))
    return "; ".join(parts)


def check_training_protocol(runs: pd.DataFrame) -> None:
    """Refuse runs trained under different protocols, naming each differing field and its runs."""
    frame = runs.assign(device=runs["device"].map(_device_kind))
    differences = differing_fields(frame, TRAINING_FIELDS)
    if differences:
        raise UserError(
            "these runs were trained under different protocols and cannot share one table: "
            + _describe(frame, differences, "run")
            + ". Pass only run directories of one protocol (e.g. `ladabench compare runs/quick`)"
        )


def check_metric_protocol(final: pd.DataFrame, kind: str) -> None:
    """Refuse final `kind` (fid/kid) values computed under different metric protocols."""
    rows = final[final["kind"] == kind]
    differences = differing_fields(rows, METRIC_FIELDS)
    if differences:
        raise UserError(
            f"{kind.upper()} values were computed under different protocols: "
            + _describe(rows, differences, "run")
            + f". Re-evaluate the runs alike (`ladabench eval RUN --metrics {kind} --num-gen N --sample-seeds ...`) "
            "or compare them separately"
        )


def training_protocol(runs: pd.DataFrame) -> dict[str, object]:
    """The single training protocol of checked runs as field -> value."""
    first = runs.iloc[0]
    return {
        field: (_device_kind(first[field]) if field == "device" else first[field])
        for field in TRAINING_FIELDS
        if field in runs
    }


def metric_protocol(final: pd.DataFrame, kind: str) -> dict[str, object] | None:
    """The single metric protocol of a kind's checked final rows, or None when the kind was not evaluated."""
    rows = final[final["kind"] == kind] if not final.empty else final
    if rows.empty:
        return None
    first = rows.iloc[0]
    return {field: first[field] for field in (*METRIC_FIELDS, *INTERVAL_FIELDS) if field in rows}
