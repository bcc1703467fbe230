"""Seed spread: the pooled std and the 95% band for gaps, checked against hand computations."""

from __future__ import annotations

import math
import statistics

import pandas as pd

from bench.report.spread import pooled_seed_std, spread_note, within_noise


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for model, seeds in values.items():
        rows.append({"model": model, "kid_mean": statistics.mean(seeds),
                     "kid_std": statistics.stdev(seeds) if len(seeds) > 1 else float("nan"), "n_seeds": len(seeds)})
    return pd.DataFrame(rows)


def test_pooled_std_weights_each_model_by_its_degrees_of_freedom():
    values = {"a": [10.0, 12.0, 14.0], "b": [20.0, 21.0], "c": [5.0]}
    # Independent: pooled variance = sum of squared deviations from each model's mean / sum of (n - 1).
    squares = sum((x - statistics.mean(v)) ** 2 for v in values.values() for x in v)
    expected = math.sqrt(squares / ((3 - 1) + (2 - 1)))
    std, dof = pooled_seed_std(_table(values), "kid")
    assert math.isclose(std, expected, rel_tol=1e-12) and dof == 3
    assert pooled_seed_std(_table({"a": [1.0], "b": [2.0]}), "kid") is None


def test_band_for_single_runs_and_for_means():
    # One seed each: the gap of two runs has std sqrt(2)*s, so the 95% band is 1.96*sqrt(2)*s = 2.772*s.
    assert within_noise(2.77, 1.0, 1) and not within_noise(2.78, 1.0, 1)
    # Means over 4 seeds: std of the gap sqrt(2/4)*s, band 1.386*s.
    assert within_noise(1.38, 1.0, 4) and not within_noise(1.39, 1.0, 4)


def test_note_names_each_neighbour_pair_and_its_verdict():
    table = _table({"lada": [10.0, 11.0], "conv": [30.0, 31.0], "dot": [10.5, 11.5]})
    text = spread_note(table, "kid", "KID", pooled_seed_std(table, "kid"), "this report's seeds")
    assert "`lada` vs `dot`: 0.5 (within seed noise)" in text
    assert "`dot` vs `conv`: 19.5 (larger than seed noise)" in text
    assert "not measured" in spread_note(table, "kid", "KID", None, "")


def test_compare_report_states_the_seed_spread(tmp_path):
    from reportfakes import make_run

    from bench.report.build import build_report
    from bench.report.columns import parse_metric_list

    root = tmp_path / "runs"
    kids = {("ladagan", 0): 20.0, ("ladagan", 1): 22.0, ("conv", 0): 30.0, ("conv", 1): 34.0}
    for i, ((model, seed), kid) in enumerate(kids.items()):
        make_run(root, i, model, seed, {4: 50.0}, kid)
    text = build_report([root], parse_metric_list("kid"), tmp_path / "r.md").markdown_path.read_text()
    pooled = math.sqrt(((20 - 21) ** 2 + (22 - 21) ** 2 + (30 - 32) ** 2 + (34 - 32) ** 2) / 2)
    assert f"pooled std over training seeds {pooled:.3g} (2 degrees of freedom" in text
    assert "`ladagan` vs `conv`: 11 (larger than seed noise)" in text
