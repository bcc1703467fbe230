"""Seed spread: the pooled std and the 95% band for gaps, checked against hand computations."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest

from bench.report.spread import pooled_seed_std, spread_note, within_noise


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for model, seeds in values.items():
        rows.append(
            {
                "model": model,
                "kid_mean": statistics.mean(seeds),
                "kid_std": statistics.stdev(seeds) if len(seeds) > 1 else float("nan"),
                "n_seeds": len(seeds),
            }
        )
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


def _spread_reports(tmp_path, single_options=None):
    """A two-seed report (r2.md) and the runs of a one-seed report of the same models, from fabricated runs."""
    from reportfakes import make_run

    from bench.report.build import build_report
    from bench.report.columns import parse_metric_list

    two, one = tmp_path / "two", tmp_path / "one"
    for i, ((model, seed), kid) in enumerate(
        {("ladagan", 0): 20.0, ("ladagan", 1): 22.0, ("conv", 0): 30.0, ("conv", 1): 34.0}.items()
    ):
        make_run(two, i, model, seed, {4: 50.0}, kid)
    make_run(one, 0, "ladagan", 0, {4: 50.0}, 21.0, options=single_options)
    make_run(one, 1, "conv", 0, {4: 50.0}, 25.0, options=single_options)
    build_report([two], parse_metric_list("kid"), tmp_path / "r2.md")
    return one, tmp_path / "r2.csv", parse_metric_list("kid")


def test_single_seed_report_borrows_the_spread_of_a_report_of_the_same_protocol(tmp_path):
    from bench.report.build import build_report

    one, spread_csv, keys = _spread_reports(tmp_path)
    text = build_report([one], keys, tmp_path / "r1.md", spread_from=spread_csv).markdown_path.read_text()
    pooled = math.sqrt(((20 - 21) ** 2 + (22 - 21) ** 2 + (30 - 32) ** 2 + (34 - 32) ** 2) / 2)
    band = 1.959963984540054 * math.sqrt(2.0) * pooled  # one seed per value in the borrowing report
    assert (
        f"pooled std over training seeds {pooled:.3g} (2 degrees of freedom, measured in r2.md over training seeds 0,1)"
        in text
    )
    assert f"a gap below {band:.3g} can be training noise" in text
    assert "`ladagan` vs `conv`: 4 (within seed noise)" in text  # 4 < band (6.2)


def test_spread_of_another_ema_schedule_is_refused_naming_the_field(tmp_path):
    from bench.core.errors import UserError
    from bench.report.build import build_report

    one, spread_csv, keys = _spread_reports(tmp_path, {"ema_halflife_kimg": 10.0, "ema_rampup": 0.05})
    with pytest.raises(
        UserError, match=r"another protocol \(ema_halflife_kimg: 10\.0 vs None; ema_rampup: 0\.05 vs None\)"
    ):
        build_report([one], keys, tmp_path / "r1.md", spread_from=spread_csv)
    assert not (tmp_path / "r1.md").exists() and not (tmp_path / "r1.csv").exists()
    # In a grid (not strict) the mismatch becomes a note and the spread stays unmeasured.
    text = build_report(
        [one], keys, tmp_path / "r1.md", spread_from=spread_csv, spread_strict=False
    ).markdown_path.read_text()
    assert "Seed spread not borrowed" in text and "not measured at this protocol" in text


def test_runs_trained_with_different_thread_counts_are_named_in_a_note(tmp_path):
    import json

    from reportfakes import make_run

    from bench.report.build import build_report
    from bench.report.columns import parse_metric_list

    first = make_run(tmp_path / "runs", 0, "ladagan", 0, {4: 50.0}, 20.0)
    second = make_run(tmp_path / "runs", 1, "conv", 0, {4: 50.0}, 30.0)
    keys = parse_metric_list("kid,imgs-per-sec")
    assert (
        "differ in their environment"
        not in build_report([tmp_path / "runs"], keys, tmp_path / "a.md").markdown_path.read_text()
    )
    env = json.loads((second / "env.json").read_text())
    (second / "env.json").write_text(json.dumps({**env, "cpu_threads": 1}))
    text = build_report([tmp_path / "runs"], keys, tmp_path / "b.md").markdown_path.read_text()
    assert f"cpu_threads: 1 (`{second.name}`); 2 (`{first.name}`)" in text


def test_missing_or_single_seed_spread_source_is_one_line_and_writes_nothing(tmp_path):
    from bench.core.errors import UserError
    from bench.report.build import build_report

    one, spread_csv, keys = _spread_reports(tmp_path)
    with pytest.raises(
        UserError, match=r"--spread-from .*none\.csv does not exist; pass the \.csv of a multi-seed report"
    ):
        build_report([one], keys, tmp_path / "r1.md", spread_from=tmp_path / "none.csv")
    # A one-seed report of the same protocol has no spread to lend.
    build_report([one], keys, tmp_path / "single.md")
    with pytest.raises(UserError, match="has no model with two or more training seeds"):
        build_report([one], keys, tmp_path / "r1.md", spread_from=tmp_path / "single.csv")
    assert not (tmp_path / "r1.md").exists() and not (tmp_path / "r1.csv").exists()
