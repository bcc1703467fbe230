"""In-training evaluation: the `on_snapshot` callback a caller of `bench.train.train` passes for --metrics."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from bench.core.records import MetricLine
from bench.core.rundir import RunDir
from bench.metrics.evaluate import evaluate_snapshot
from bench.metrics.names import parse_metric_name
from bench.metrics.weights import locate_inception
from bench.train.loop import OnSnapshot
from bench.train.options import TrainOptions


def snapshot_evaluator(options: TrainOptions) -> tuple[OnSnapshot | None, dict[str, Any]]:
    """The callback evaluating `options.metrics` at each evaluated snapshot, and provenance for env.json.

    Names are checked now, so a typo fails before anything is written. Without --metrics: (None, {}).
    """
    if not options.metrics:
        return None, {}
    try:
        weights = locate_inception()
    except UserError:  # provenance only: the first evaluation names the missing weights and the fix
        weights = None
    suffix = weights.metric_suffix if weights else None
    for name in options.metrics:
        parsed = parse_metric_name(name)
        if parsed.features and parsed.features != suffix:  # training evaluates with the FID Inception only
            bare = dataclasses.replace(parsed, features=None).name
            raise UserError(
                f"--metrics '{name}' names feature extractor '{parsed.features}', but training evaluates with "
                f"the FID Inception; drop the suffix, or evaluate after training: `ladabench eval RUN --metrics "
                f"{bare} --features {parsed.features}`"
            )
    extra = {"inception_sha256": weights.sha256 if weights else None}

    def on_snapshot(run: RunDir, snapshot: Path, device: str) -> list[MetricLine]:
        """Evaluate one snapshot and append its metric lines; the rows go to the training log."""
        return evaluate_snapshot(run.path, snapshot, list(options.metrics), device)

    return on_snapshot, extra
