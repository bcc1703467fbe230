"""A seed spread measured by another report: its protocol record, and the check that it matches this one.

Every report writes `<stem>-protocol.json` beside its CSV: the training protocol (the TrainOptions
protocol fields) and each quality metric's protocol. A single-seed report (the quick benchmark) can
then borrow the between-seed spread of a multi-seed report of the *same* protocol (`--spread-from
reports/fashion32-seeds.csv`) to say which of its gaps training noise can explain; a report of
another protocol (another EMA schedule, budget, N, precision...) is refused, naming the fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import UserError
from bench.core.files import atomic_write_json, read_json, require_file
from bench.report.protocol import METRIC_FIELDS
from bench.report.spread import pooled_seed_std

PROTOCOL_SCHEMA = "ladabench.report-protocol/1"


def protocol_path(csv_path: Path) -> Path:
    """Where a report whose table is `csv_path` keeps its protocol record."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}-protocol.json")


def _plain(value: Any) -> Any:
    """A protocol value as JSON keeps it: NaN (pandas' missing value) as None, numpy scalars as Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def protocol_record(info: dict[str, Any]) -> dict[str, Any]:
    """The part of a report's info that decides whether another report's seed spread applies to it."""
    metrics = {
        kind: ({k: _plain(v) for k, v in proto.items() if k in METRIC_FIELDS} if proto else None)
        for kind, proto in info["metrics"].items()
    }
    return {
        "schema": PROTOCOL_SCHEMA,
        "training": {k: _plain(v) for k, v in info["training"].items()},
        "metrics": metrics,
        "seeds": info["seeds"],
    }


def write_protocol(csv_path: Path, info: dict[str, Any]) -> None:
    """Write the protocol record beside a report's CSV (atomically)."""
    atomic_write_json(protocol_path(csv_path), json.loads(json.dumps(protocol_record(info), default=str)))


def protocol_differences(own: dict[str, Any], other: dict[str, Any], kinds: list[str]) -> list[str]:
    """'field: ours vs theirs' for each training field and each field of `kinds`' metric protocols that differs."""
    found = []
    for key in sorted(set(own["training"]) | set(other["training"])):
        mine, theirs = own["training"].get(key), other["training"].get(key)
        if mine != theirs:
            found.append(f"{key}: {mine!r} vs {theirs!r}")
    for kind in kinds:
        mine, theirs = own["metrics"].get(kind), other["metrics"].get(kind)
        if mine is None or theirs is None:
            found += [f"{kind}: not evaluated in {'this report' if mine is None else 'the spread report'}"]
            continue
        found += [
            f"{kind} {key}: {mine.get(key)!r} vs {theirs.get(key)!r}"
            for key in METRIC_FIELDS
            if mine.get(key) != theirs.get(key)
        ]
    return found


@dataclass(frozen=True)
class BorrowedSpread:
    """Another report's per-model table (for the pooled seed std) and how the note names it."""

    table: pd.DataFrame
    source: str


def spread_source_files(csv_path: Path) -> tuple[Path, Path]:
    """(report .csv, its -protocol.json) of a --spread-from value, or a UserError: callers check this before writing."""
    fix = (
        "pass the .csv of a multi-seed report written by `ladabench compare`/`bench` "
        "(its -protocol.json sits beside it)"
    )
    csv_path = require_file(csv_path, "--spread-from", fix)
    return csv_path, require_file(protocol_path(csv_path), f"--spread-from {csv_path}:", fix)


def load_spread_source(csv_path: Path, own_info: dict[str, Any], kinds: list[str]) -> BorrowedSpread:
    """A multi-seed report's table after checking that its protocol equals this report's; a UserError otherwise."""
    csv_path, record_path = spread_source_files(csv_path)
    other = read_json(record_path)
    if other.get("schema") != PROTOCOL_SCHEMA:
        raise UserError(
            f"--spread-from {csv_path}: {record_path} is not a report protocol record "
            f"(schema {other.get('schema')!r}); regenerate that report"
        )
    own = json.loads(json.dumps(protocol_record(own_info), default=str))
    differences = protocol_differences(own, other, kinds)
    if differences:
        raise UserError(
            f"--spread-from {csv_path} was measured under another protocol ("
            + "; ".join(differences[:4])
            + (f"; +{len(differences) - 4} more" if len(differences) > 4 else "")
            + "); its seed spread does not apply here. Pass a report of this protocol or leave it out"
        )
    try:
        table = pd.read_csv(csv_path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--spread-from {csv_path} is not a readable CSV ({exc})") from exc
    if not any(pooled_seed_std(table, kind) for kind in kinds if f"{kind}_std" in table and "n_seeds" in table):
        raise UserError(
            f"--spread-from {csv_path} has no model with two or more training seeds; pass a multi-seed report"
        )
    return BorrowedSpread(table, f"measured in {csv_path.with_suffix('.md').name} over training seeds {other['seeds']}")
