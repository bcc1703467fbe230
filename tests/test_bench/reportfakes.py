"""Fabricated run directories in the real on-disk formats (options.json, env.json, stats.jsonl, metric-*.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HASH = "ab" * 32
WEIGHTS = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


def metric_line(kind: str, value: float, kimg: int, run: str, model: str, **overrides: Any) -> dict[str, Any]:
    """One metric line as `bench.metrics.evaluate.evaluate_snapshot` writes it."""
    num_gen = overrides.pop("num_gen", 500)
    line = {
        "metric": f"{kind}{num_gen}_train",
        "kind": kind,
        "value": value,
        "std": 0.5,
        "values_per_seed": [value],
        "unit": "FID" if kind == "fid" else "KIDx1e3",
        "num_gen": num_gen,
        "num_ref": num_gen,
        "seeds": [0],
        "reference": {
            "data": "fashion10k",
            "split": "train",
            "content_hash": HASH,
            "data_split": "train",
            "selection": "seeded",
            "cache": "hit",
        },
        "resize_mode": "clean",
        "resize": "PIL bicubic",
        "features": "inception",
        "features_description": "FID Inception",
        "weights_sha256": WEIGHTS,
        "comparable": True,
        "latents": "per-image",
        "quantise": "uint8",
        "cleanfid_version": "0.1.35",
        "torch_version": "2.14.1",
        "device": "cpu",
        "elapsed_s": 1.0,
        "run": run,
        "model": model,
        "preset": "tiny32",
        "snapshot": f"snapshot-{kimg:06d}.pt",
        "kimg": kimg,
        "generator": "G_ema",
        "total_elapsed_s": 2.0,
        "timestamp": "2026-11-24T20:00:00+00:00",
    }
    line.update(overrides)
    return line


def make_run(
    root: Path,
    index: int,
    model: str,
    seed: int,
    fid_by_kimg: dict[int, float],
    kid: float,
    img_per_sec: float = 100.0,
    peak_mem_bytes: int = 2**30,
    total_kimg: int = 4,
    options: dict[str, Any] | None = None,
    metric_overrides: dict[str, Any] | None = None,
) -> Path:
    """A complete run folder: training ticks up to the budget, FID at each kimg key, KID at the end."""
    name = f"{index:05d}-{model}-fashion10k-tiny32-kimg{total_kimg}-seed{seed}"
    run_dir = root / name
    run_dir.mkdir(parents=True)
    opts = {
        "model": model,
        "preset": "tiny32",
        "data": "fashion10k",
        "data_root": None,
        "data_content_hash": HASH,
        "resolution": 32,
        "seed": seed,
        "batch_size": 32,
        "total_kimg": total_kimg,
        "device": "cpu",
        "amp": "off",
        "augment": "color,translation",
        "ema_decay": 0.999,
        "preset_config": {},
    }
    opts.update(options or {})
    (run_dir / "options.json").write_text(json.dumps(opts))
    env = {
        "python": "3.11.7",
        "torch": "2.14.1",
        "clean_fid": "0.1.35",
        "cpu": "x86_64",
        "cpu_threads": 2,
        "git_sha": "0123456789abcdef",
        "git_dirty": False,
        "gpu_name": None,
    }
    (run_dir / "env.json").write_text(json.dumps(env))
    ticks = [
        {
            "tick": k,
            "kimg": float(k),
            "images_seen": k * 1000,
            "wall_s": 10.0 * k,
            "img_per_sec": img_per_sec if k > 1 else 1.0,
            "peak_mem_bytes": peak_mem_bytes,
        }
        for k in range(1, total_kimg + 1)
    ]
    (run_dir / "stats.jsonl").write_text("".join(json.dumps(t) + "\n" for t in ticks))
    overrides = metric_overrides or {}
    fid_lines = [metric_line("fid", v, k, name, model, **overrides) for k, v in sorted(fid_by_kimg.items())]
    (run_dir / f"metric-{fid_lines[0]['metric']}.jsonl").write_text("".join(json.dumps(m) + "\n" for m in fid_lines))
    kid_line = metric_line("kid", kid, total_kimg, name, model, **overrides)
    (run_dir / f"metric-{kid_line['metric']}.jsonl").write_text(json.dumps(kid_line) + "\n")
    return run_dir
