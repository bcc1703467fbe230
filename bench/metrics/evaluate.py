"""Evaluate a generator (or a run's snapshot) with FID/KID and append the results to the run directory.

Protocol, recorded with every number: images from the EMA generator with one latent seed per image;
reference = a fixed seeded subset of the run's training data as large as the generated set (or the
whole set); clean-fid `clean` resize; NVIDIA's FID Inception from a sha256-checked file. FID is
computed once per sample seed (mean +- std over seeds); KID x10^3 is the mean +- std over seeded
subsets of at most 1,000 images (pooled over seeds); both carry a 95% jackknife interval
(bench.metrics.jackknife). Precision/recall/density/coverage (k=3) use the same features.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.core.errors import UserError
from bench.core.records import INIT_SNAPSHOT, MetricLine, MetricReference
from bench.core.rundir import RunDir, snapshot_kimg
from bench.data import load_dataset
from bench.data.types import PreparedDataset
from bench.metrics.ci import CI_GROUPS
from bench.metrics.features import (
    REAL_FEATURES,
    RESIZE_MODE,
    FeatureExtractor,
    load_feature_extractor,
    metric_suffix,
    resize_description,
)
from bench.metrics.generate import LATENT_RULE, QUANTISE_RULE, generated_features
from bench.metrics.names import MetricName, resolve_metric_names
from bench.metrics.reference import ReferenceStats, load_or_compute_reference
from bench.metrics.registry import QUALITY_METRICS
from bench.train.loop import seeded_models
from bench.train.options import TrainOptions
from bench.train.snapshots import load_generator

DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_NUM_GEN = {"cuda": 10_000, "cpu": 500}
Log = Callable[[str], None]


def default_num_gen(device: str) -> int:
    """Generated images per seed when the user names none: 10k on a GPU, 500 on a CPU."""
    return DEFAULT_NUM_GEN["cuda" if str(device).startswith("cuda") else "cpu"]


def _cleanfid_version() -> str:
    """Installed clean-fid version (recorded with every result)."""
    return version("clean-fid")


class _FeatureMemo:
    """Generated features per sample seed, grown on demand so fid and kid of one call share them."""

    def __init__(
        self, generator: nn.Module, extractor: FeatureExtractor, device: str, batch_size: int, show_progress: bool
    ) -> None:
        self.generator, self.extractor, self.device = generator, extractor, device
        self.batch_size, self.show_progress = batch_size, show_progress
        self.by_seed: dict[int, np.ndarray] = {}

    def get(self, seed: int, count: int) -> np.ndarray:
        """Features of images 0..count-1 of `seed` (per-image latents make smaller sets prefixes)."""
        have = self.by_seed.get(seed)
        if have is None or len(have) < count:
            self.by_seed[seed] = generated_features(
                self.generator, seed, count, self.extractor, self.device, self.batch_size, self.show_progress
            )
        return self.by_seed[seed][:count]


def _check_resolution(generator: nn.Module, dataset: PreparedDataset) -> None:
    """Refuse to compare images of different sizes (a wrong --data would give a meaningless FID)."""
    size = getattr(generator, "img_size", None)
    if size is not None and int(size) != int(dataset.resolution):
        raise UserError(
            f"the generator makes {size}-px images but dataset '{dataset.name}' is {dataset.resolution} px; "
            "evaluate against the data the run was trained on"
        )


def evaluate_generator(
    generator: nn.Module,
    dataset: PreparedDataset,
    metrics: list[MetricName],
    extractor: FeatureExtractor,
    device: str = "cpu",
    seeds: list[int] | tuple[int, ...] = DEFAULT_SEEDS,
    batch_size: int = 50,
    show_progress: bool = True,
    log: Log | None = None,
    ci_groups: int = CI_GROUPS,
) -> list[MetricLine]:
    """Compute each metric for `generator` against `dataset`; one result dict (protocol included) per metric."""
    log = log or (lambda msg: None)
    _check_resolution(generator, dataset)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise UserError("no sample seed given; pass e.g. --sample-seeds 0,1,2")
    memo = _FeatureMemo(generator, extractor, device, batch_size, show_progress)
    references: dict[int, ReferenceStats] = {}
    results = []
    for metric in metrics:
        started = time.perf_counter()
        num_ref = min(metric.num_gen, int(dataset.count))
        if num_ref not in references:
            ref = load_or_compute_reference(
                dataset, num_ref, extractor, device, batch_size, metric.split, show_progress
            )
            log(
                f"reference features {dataset.name} n={ref.count}: {ref.cache_state}"
                + (f" ({ref.cache_path})" if ref.cache_path else "")
            )
            references[num_ref] = ref
        ref = references[num_ref]
        features = functools.partial(memo.get, count=metric.num_gen)
        computed = QUALITY_METRICS[metric.kind].compute(features, ref, metric.num_gen, seeds, ci_groups)
        results.append(
            MetricLine(
                metric=metric.name,
                kind=metric.kind,
                **computed,
                num_gen=metric.num_gen,
                num_ref=ref.count,
                seeds=seeds,
                reference=MetricReference(
                    data=dataset.name,
                    split=metric.split,
                    content_hash=dataset.content_hash,
                    data_split=dict(getattr(dataset, "meta", {}) or {}).get("split"),
                    selection=ref.meta.get("selection"),
                    cache="hit" if ref.cache_hit else "computed",
                ),
                resize_mode=RESIZE_MODE,
                resize=resize_description(extractor.input_size),
                features=extractor.name,
                features_description=extractor.description,
                weights_sha256=extractor.weights_sha256,
                comparable=extractor.comparable,
                latents=LATENT_RULE,
                quantise=QUANTISE_RULE,
                cleanfid_version=_cleanfid_version(),
                torch_version=torch.__version__,
                device=str(device),
                elapsed_s=round(time.perf_counter() - started, 3),
            )
        )
    return results


def append_results(run_dir: Path, results: list[MetricLine]) -> None:
    """Append each result as one JSON line to the run's `metric-<name>.jsonl` (one synced write per line)."""
    run = RunDir(run_dir)
    for result in results:
        run.append_metric(result)


def evaluate_snapshot(
    run_dir: Path,
    snapshot_path: Path | str | None,
    metrics: list[str],
    device: str,
    num_gen: int | None = None,
    seeds: list[int] | None = None,
    *,
    features: str = REAL_FEATURES,
    inception: str | None = None,
    batch_size: int = 50,
    show_progress: bool = True,
    log: Log | None = None,
    ci_groups: int = CI_GROUPS,
    dinov2: str | None = None,
) -> list[MetricLine]:
    """Evaluate G_ema of a run's snapshot (latest when None; G before training for INIT_SNAPSHOT); append the lines."""
    if snapshot_path == INIT_SNAPSHOT:
        # G as the run started, rebuilt from its options and seed: the baseline a trained G is measured against.
        options = TrainOptions.from_json(RunDir(run_dir).read_options())
        generator = seeded_models(options)[0].to(device)
        record = {"snapshot": INIT_SNAPSHOT, "kimg": 0, "generator": "G at initialisation"}
    else:
        generator, options, snapshot_path = load_generator(run_dir, snapshot_path, device=device)
        snapshot_path = Path(snapshot_path)
        record = {"snapshot": snapshot_path.name, "kimg": snapshot_kimg(snapshot_path), "generator": "G_ema"}
    run_dir = Path(run_dir)
    # Names first (a typo fails before a network loads); the suffix marks non-comparable features.
    names = resolve_metric_names(metrics, num_gen, default_num_gen(device), features=metric_suffix(features, inception))
    extractor = load_feature_extractor(features, device=device, inception=inception, dinov2=dinov2)
    generator.eval()
    dataset = load_dataset(options.data, options.data_root)
    started = time.perf_counter()
    results = evaluate_generator(
        generator,
        dataset,
        names,
        extractor,
        device=device,
        seeds=list(seeds) if seeds is not None else list(DEFAULT_SEEDS),
        batch_size=batch_size,
        show_progress=show_progress,
        log=log,
        ci_groups=ci_groups,
    )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    total_elapsed_s = round(time.perf_counter() - started, 3)
    results = [
        line.with_run(
            run=run_dir.name,
            model=options.model,
            preset=options.preset,
            **record,
            total_elapsed_s=total_elapsed_s,
            timestamp=stamp,
        )
        for line in results
    ]
    append_results(run_dir, results)
    return results
