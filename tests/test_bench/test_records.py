"""The typed records (bench.core.records): exact round trips, older lines still read, one owner of profile files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.core.records import FD_DINOV2_KIND, MetricLine, ProfileFile, StatsLine
from bench.core.rundir import RunDir

REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*-profile.json")) + sorted(REPORTS.glob("*-scaling.json")))
def test_committed_profile_files_read_and_write_back_unchanged(path: Path) -> None:
    stored = json.loads(path.read_text())
    document = ProfileFile.read(path)
    assert document.to_json() == stored
    assert list(document.to_json()) == list(stored)  # key order too: a rewrite is byte-identical
    for row in document.rows:
        assert row.speed is not None and row.train_img_per_sec == row.speed.train.img_per_sec > 0


def test_a_metric_line_of_an_older_version_reads_and_keeps_what_it_does_not_know() -> None:
    old = {"metric": "kid500_train", "value": 3.5, "seeds": [0, 1], "reference": {"data": "x", "future": 1}, "new": 2}
    line = MetricLine.from_json(old)
    assert line.kind == "kid" and line.value == 3.5 and line.std is None and line.reference.data == "x"
    assert line.extra == {"new": 2} and line.reference.extra == {"future": 1}
    written = line.to_json()
    assert written["new"] == 2 and written["reference"]["future"] == 1 and written["schema"] == MetricLine.SCHEMA
    assert MetricLine.from_json(written) == line


def test_fd_dinov2_is_recognised_from_the_features_field() -> None:
    fid = MetricLine("fid500_train-dinov2", "fid", 90.0, features="dinov2")
    assert fid.report_kind == FD_DINOV2_KIND
    assert MetricLine("fid500_train", "fid", 9.0, features="inception").report_kind == "fid"


def test_stats_lines_round_trip_and_an_imported_line_has_only_its_counters(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    tick = StatsLine(tick=1, step=4, images_seen=32, kimg=0.032, wall_s=1.5, img_per_sec=20.0, loss_d=None)
    imported = StatsLine(tick=0, step=25, images_seen=3200, kimg=3.2, imported=True)
    run.append_stats(tick)
    run.append_stats(imported)
    assert run.read_stats() == [tick, imported]
    assert set(imported.to_json()) == {
        "schema",
        "tick",
        "step",
        "images_seen",
        "kimg",
        "wall_s",
        "img_per_sec",
        "imported",
    }
    assert run.images_seen() == 3200


def test_a_stats_line_without_its_counter_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "stats.jsonl").write_text('{"kimg": 1.0}\n')
    with pytest.raises(UserError, match=r"stats.jsonl, line 1: a stats line needs a numeric 'images_seen'"):
        RunDir(tmp_path).read_stats()
