"""Count-only profile rows (params, MACs, FLOPs; no timing) for compared models that no profile file covers.

Reports take cost columns from profile files only; when the user passes none (or one that misses a
model), the command writes this file beside the report and hands it over like any other.
"""

from __future__ import annotations

from pathlib import Path

from bench.core.records import ProfileFile
from bench.core.rundir import RunDir
from bench.metrics.profile import profile_model
from bench.report.columns import COLUMNS
from bench.report.gather import load_profile_files
from bench.train.options import TrainOptions


def count_missing_costs(
    run_paths: list[Path], profile_paths: list[Path], keys: list[str], out_path: Path
) -> list[Path]:
    """`profile_paths`, plus `out_path` holding count-only rows for the runs' (model, preset) pairs not covered.

    Nothing is counted (and no file written) unless a cost column is asked for and a pair is missing.
    """
    if not any(COLUMNS[key].source == "profile" for key in keys):
        return list(profile_paths)
    profile, _ = load_profile_files(profile_paths)
    have = set(zip(profile.get("model", []), profile.get("preset", []), strict=False))
    stored = [TrainOptions.from_json(run.read_options(), str(run.options_path)) for run in RunDir.find(run_paths)]
    wanted = dict.fromkeys((o.model, o.preset) for o in stored)  # from_json: a damaged options.json is one line
    rows = [
        profile_model(model, preset, measure_speed=False) for model, preset in wanted if (model, preset) not in have
    ]
    if not rows:
        return list(profile_paths)
    return [*profile_paths, ProfileFile(rows=rows).write(out_path)]
