"""Read run directories (options, env, stats, metric lines) and profile JSON into pandas DataFrames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.files import require_file
from bench.core.records import MetricLine, ProfileFile, StatsLine
from bench.core.rundir import RunDir
from bench.train.budget import budget_images
from bench.train.options import PROTOCOL_KEYS, TrainOptions

RUN_FIELDS = ("model", "preset", "seed", *PROTOCOL_KEYS)  # options that identify a run and its protocol
ENV_FIELDS = ("torch", "python", "clean_fid", "git_sha", "git_dirty", "cpu_threads", "command_line")


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories named by `paths`: a run itself, or every run (folder with options.json) below a folder."""
    return [run.path for run in RunDir.find(paths)]


def _stats_summary(stats: list[StatsLine]) -> dict[str, Any]:
    """Training speed, memory and clock of a run from its stats lines (first tick left out: warm-up)."""
    if not stats:
        return {"images_seen": 0, "wall_s": None, "train_img_per_sec": None, "peak_mem_bytes": None}
    steady = stats[1:] if len(stats) > 1 else stats
    speeds = [s.img_per_sec for s in steady if s.img_per_sec is not None]
    mems = [s.peak_mem_bytes for s in stats if s.peak_mem_bytes is not None]
    return {
        "images_seen": stats[-1].images_seen,
        "wall_s": float(stats[-1].wall_s) if stats[-1].wall_s is not None else None,
        "train_img_per_sec": float(pd.Series(speeds).median()) if speeds else None,
        "peak_mem_bytes": max(mems) if mems else None,
    }


def executed_where(where: dict[str, Any] | None) -> str | None:
    """Where a grid cell ran, in words ('local, 2 workers x 1 thread'; 'slurm array 12'); None outside grids."""
    if not where:
        return None
    text = str(where.get("executor"))
    if where.get("executor") == "local":
        text += f", {where.get('workers')} workers x {where.get('threads')} thread(s)"
    elif where.get("slurm_array_job_id"):
        text += f" array {where['slurm_array_job_id']}, {where.get('threads')} thread(s)"
    elif where.get("slurm_job_id"):
        text += f" job {where['slurm_job_id']}"
    return text


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[StatsLine]]:
    """One run: (run row, metric rows, stats lines)."""
    run_dir = Path(run_dir)
    run_files = RunDir(run_dir)
    options = TrainOptions.from_json(run_files.read_options(), str(run_files.options_path))
    env, stats = run_files.read_env(), run_files.read_stats()
    summary = _stats_summary(stats)
    budget = budget_images(options)  # --kimg, or the images a --budget-tflops buys
    run = {
        "run": run_dir.name,
        "run_dir": str(run_dir),
        **{name: getattr(options, name) for name in RUN_FIELDS},
        "device": str(options.device),
        "complete": budget is not None and summary["images_seen"] >= budget,
        "train_flops_per_image": options.train_flops_per_image,
        **summary,
        "device_name": env.get("gpu_name") or env.get("cpu"),
        **{name: env.get(name) for name in ENV_FIELDS},
        "executed": executed_where(env.get("where")),
    }
    final = run_files.final_snapshot_name()
    metric_lines = run_files.metric_lines()
    if final is None and metric_lines:  # no snapshot kept: the latest evaluated point stands for the end
        final = max(metric_lines, key=lambda m: m.kimg or 0).snapshot
    metrics = [_metric_row(run, line, final, stats) for line in metric_lines]
    return run, metrics, stats


def _wall_at(stats: list[StatsLine], kimg: float | None) -> float | None:
    """Training wall-clock seconds when the run had seen `kimg` (the last stats line at or before it)."""
    if kimg is None or not stats:
        return None
    before = [s for s in stats if s.kimg <= kimg + 1e-9 and s.wall_s is not None]
    return float(before[-1].wall_s) if before else None


def _metric_row(run: dict[str, Any], line: MetricLine, final: str | None, stats: list[StatsLine]) -> dict[str, Any]:
    """One metric line flattened with its run's identity; `final` marks the final snapshot's value."""
    ci_lo, ci_hi = line.ci95 or (None, None)
    components = {name: line.component(name) for name in line.components or {}}
    is_final = line.snapshot == final
    # Old snapshot names floor the kimg; the final one stands for the exact budget the stats reached.
    kimg = run["images_seen"] / 1000 if is_final and run["images_seen"] else line.kimg
    return {
        "run": run["run"],
        "model": run["model"],
        "preset": run["preset"],
        "data": run["data"],
        "seed": run["seed"],
        **line.protocol(),
        "kind": line.report_kind,  # FD-DINOv2 is a metric of its own: no column mixes it with FID
        "value": line.value,
        "sample_std": line.std,
        "ci_lo": ci_lo,
        "ci_hi": ci_hi,
        "ci_se": line.ci_se,
        "ci_groups": line.ci_groups,
        **components,
        "kimg": kimg,
        "snapshot": line.snapshot,
        "final": is_final,
        "wall_s": _wall_at(stats, kimg),
        "unit": line.unit,
        "timestamp": line.timestamp,
    }


def gather_runs(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, metrics): one row per run, one row per metric line (every evaluated snapshot)."""
    runs, metrics = [], []
    for run_dir in run_dirs:
        run, rows, _ = load_run(run_dir)
        runs.append(run)
        metrics += rows
    return pd.DataFrame(runs), pd.DataFrame(metrics)


def final_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Metric rows of each run's final snapshot (the latest line when a snapshot was evaluated twice)."""
    if metrics.empty:
        return metrics
    final = metrics[metrics["final"]]
    return final.sort_values("timestamp", na_position="first").groupby(["run", "metric"], as_index=False).last()


def load_profile_files(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profile rows, attention-scaling rows) from JSON files written by `ladabench profile --json`."""
    profile, scaling = [], []
    for path in paths:
        require_file(path, "--profile", "pass a JSON file written by `ladabench profile MODEL --json FILE`")
        document = ProfileFile.read(Path(path))
        profile += [row.to_json() for row in document.rows]
        scaling += document.scaling
    profile_df = pd.DataFrame(profile)
    if not profile_df.empty:  # a model profiled twice: the later file wins
        profile_df = profile_df.drop_duplicates(["model", "preset"], keep="last")
    return profile_df, pd.DataFrame(scaling)
