"""Precision, recall, density, coverage: the `prdc` package against a brute-force computation, and in the pipeline."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench.core.errors import UserError
from bench.metrics.evaluate import evaluate_generator
from bench.metrics.features import load_feature_extractor
from bench.metrics.generate import generated_features
from bench.metrics.names import MetricName
from bench.metrics.prdc import precision_recall
from bench.metrics.reference import load_or_compute_reference


def _brute_force(gen: np.ndarray, ref: np.ndarray, k: int) -> dict[str, float]:
    """The definitions, point by point (Kynkäänniemi et al. 2019; Naeem et al. 2020)."""

    def radius(points: np.ndarray, i: int) -> float:
        others = sorted(float(np.linalg.norm(points[i] - points[j])) for j in range(len(points)) if j != i)
        return others[k - 1]  # distance to the k-th nearest other point

    ref_radius = [radius(ref, i) for i in range(len(ref))]
    gen_radius = [radius(gen, j) for j in range(len(gen))]
    dist = [[float(np.linalg.norm(r - g)) for g in gen] for r in ref]
    inside = [[dist[i][j] < ref_radius[i] for j in range(len(gen))] for i in range(len(ref))]
    precision = np.mean([any(inside[i][j] for i in range(len(ref))) for j in range(len(gen))])
    recall = np.mean([any(dist[i][j] < gen_radius[j] for j in range(len(gen))) for i in range(len(ref))])
    density = np.mean([sum(inside[i][j] for i in range(len(ref))) / k for j in range(len(gen))])
    coverage = np.mean([min(dist[i]) < ref_radius[i] for i in range(len(ref))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_prdc_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 6))
    gen = rng.normal(0.4, 0.8, size=(40, 6))  # shifted and narrower: precision > recall
    ours = precision_recall(gen, ref, nearest_k=3)
    expected = _brute_force(gen, ref, 3)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert 0 < expected["recall"] < expected["precision"] < 1 and expected["density"] > 0
    assert precision_recall(gen, ref, nearest_k=5) == pytest.approx(_brute_force(gen, ref, 5), abs=1e-12)
    with pytest.raises(UserError, match="--num-gen"):
        precision_recall(gen[:3], ref, nearest_k=3)


def test_pr_metric_in_the_pipeline_matches_brute_force() -> None:
    import ladagan
    from ladagan.presets import PRESETS

    torch.manual_seed(0)
    generator = ladagan.build(PRESETS["tiny32"])[0].eval()
    low = np.random.default_rng(3).integers(0, 256, (30, 3, 4, 4)).astype(np.float32)
    images = torch.nn.functional.interpolate(torch.from_numpy(low), size=32, mode="bilinear")
    images = images.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    data = SimpleNamespace(name="prdc", resolution=32, count=30, content_hash="prdc-h", images=images, meta={})
    extractor = load_feature_extractor("random-conv")
    (row,) = evaluate_generator(
        generator, data, [MetricName("pr", 30, "train", "random-conv")], extractor, seeds=[0], show_progress=False
    )
    assert row.metric == "pr30_train-random-conv" and row.nearest_k == 3
    gen = generated_features(generator, 0, 30, extractor, show_progress=False)
    ref = load_or_compute_reference(data, 30, extractor, show_progress=False).features
    expected = _brute_force(gen.astype(np.float64), ref.astype(np.float64), 3)
    for name, value in expected.items():
        assert row.component(name) == pytest.approx(value, abs=1e-9), name
    assert row.value == row.component("precision")
    json.dumps(row.to_json())  # the line is written as JSON


def test_pr_columns_in_the_report(tmp_path) -> None:
    from reportfakes import make_run

    from bench.report.build import build_report
    from bench.report.columns import parse_metric_list
    from bench.report.markdown import parse_results_table

    root = tmp_path / "runs"
    for i, (model, seed, precision) in enumerate((("ladagan", 0, 0.6), ("ladagan", 1, 0.7), ("conv", 0, 0.2))):
        run = make_run(root, i, model, seed, {4: 50.0}, 20.0)
        line = json.loads((run / "metric-fid500_train.jsonl").read_text())
        parts = {"precision": precision, "recall": 0.5, "density": 0.9, "coverage": 0.4}
        line.update(
            metric="pr500_train",
            kind="pr",
            value=precision,
            unit="fraction",
            nearest_k=3,
            components={k: {"value": v, "std": None, "values_per_seed": [v]} for k, v in parts.items()},
        )
        (run / "metric-pr500_train.jsonl").write_text(json.dumps(line) + "\n")
    report = build_report([root], parse_metric_list("fid,pr"), tmp_path / "r.md")
    rows = {r["model"]: r for r in parse_results_table(report.markdown_path.read_text())}
    assert rows["ladagan"]["precision (k=3)"].startswith("0.65 ±") and rows["conv"]["precision (k=3)"] == "0.2"
    assert rows["conv"]["recall (k=3)"] == "0.5" and rows["conv"]["coverage (k=3)"] == "0.4"
