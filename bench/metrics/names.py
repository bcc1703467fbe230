"""Metric names that carry their protocol: `fid10k_train`, `kid2k_train`, `fid500_train[-random-conv]`.

`<kind><N>[k]_<split>`: the metric kind, how many images are generated (and compared with as many
reference images, or the whole set when it is smaller), and the reference split. A suffix names a
non-comparable feature extractor so that no report can mix such numbers with real FID/KID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.core.errors import UserError
from bench.metrics.registry import QUALITY_METRICS

METRIC_KINDS = tuple(QUALITY_METRICS)
SPLITS = ("train",)
_NAME = re.compile(r"^(?P<kind>[a-z]+)(?P<count>\d+)(?P<k>k?)_(?P<split>[a-z0-9]+)(?:-(?P<features>[a-z0-9-]+))?$")


@dataclass(frozen=True)
class MetricName:
    """A parsed metric name: kind, images generated, reference split, feature extractor suffix."""

    kind: str
    num_gen: int
    split: str
    features: str | None = None  # None: the real FID Inception network

    @property
    def name(self) -> str:
        """Canonical spelling (`10000` becomes `10k`)."""
        count = f"{self.num_gen // 1000}k" if self.num_gen % 1000 == 0 else str(self.num_gen)
        suffix = f"-{self.features}" if self.features else ""
        return f"{self.kind}{count}_{self.split}{suffix}"


def parse_metric_name(text: str) -> MetricName:
    """Parse `fid10k_train` / `kid500_train-random-conv`, or raise a UserError showing the form."""
    match = _NAME.match(text.strip().lower())
    if not match:
        raise UserError(
            f"metric '{text}' is not understood; write <kind><N>[k]_<split>, e.g. fid10k_train, "
            f"kid2k_train, fid500_train (kinds: {', '.join(METRIC_KINDS)}), or a bare kind with --num-gen"
        )
    kind, split = match["kind"], match["split"]
    if kind not in METRIC_KINDS:
        raise UserError(f"metric kind '{kind}' in '{text}' is unknown; known: {', '.join(METRIC_KINDS)}")
    if split not in SPLITS:
        raise UserError(
            f"reference split '{split}' in '{text}' is unsupported; the reference set is the run's "
            f"training data: use _{SPLITS[0]}"
        )
    num_gen = int(match["count"]) * (1000 if match["k"] else 1)
    if num_gen < 2:
        raise UserError(f"metric '{text}' needs at least 2 generated images")
    return MetricName(kind=kind, num_gen=num_gen, split=split, features=match["features"])


def resolve_metric_names(
    requested: list[str], num_gen: int | None, default_num_gen: int, features: str | None = None
) -> list[MetricName]:
    """Turn `fid`, `kid` or full names into parsed names; bare kinds take `num_gen` (or the default).

    A full name fixes its own N, so a different `num_gen` beside it is refused rather than ignored.
    """
    resolved: list[MetricName] = []
    for text in requested:
        text = text.strip().lower()
        if not text:
            continue
        if text in METRIC_KINDS:
            count = num_gen if num_gen is not None else default_num_gen
            parsed = parse_metric_name(f"{text}{count}_{SPLITS[0]}")
        else:
            parsed = parse_metric_name(text)
            if num_gen is not None and parsed.num_gen != num_gen:
                raise UserError(
                    f"metric '{text}' generates {parsed.num_gen} images but --num-gen is {num_gen}; "
                    f"drop --num-gen or write the bare kind ('{parsed.kind}')"
                )
        if parsed.features and parsed.features != features:
            raise UserError(
                f"metric '{text}' names feature extractor '{parsed.features}'; pass --features "
                f"{parsed.features} to use it (real FID/KID names have no suffix)"
            )
        parsed = MetricName(parsed.kind, parsed.num_gen, parsed.split, features)
        if parsed not in resolved:
            resolved.append(parsed)
    if not resolved:
        raise UserError("no metric given; pass e.g. --metrics fid,kid")
    return resolved
