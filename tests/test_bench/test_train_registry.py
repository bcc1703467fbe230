"""Issue 5: every registered model (LadaGAN, each ablation, both baselines) trains through `ladabench train NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.rundir import RunDir
from bench.registry import all_models
from bench.train.snapshots import load_generator


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(all_models()))
def test_model_trains_two_steps_and_leaves_a_complete_run_directory(model: str, tmp_path: Path) -> None:
    # 8 images at batch 4: two full D+G iterations at the tiny preset on the embedded data.
    args = [
        "train",
        model,
        "--preset",
        "tiny",
        "--kimg",
        "0.008",
        "--batch",
        "4",
        "--tick-kimg",
        "0.004",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert run.name == f"00000-{model}-fashion10k-tiny32-kimg0.008-seed3"
    for name in ("options.json", "env.json", "log.txt", "stats.jsonl", "samples-000000.png", "snapshot-000000.008.pt"):
        assert (run / name).stat().st_size > 0, name
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["images_seen"] for s in stats] == [4, 8]
    assert all(s["loss_d"] == s["loss_d"] and s["loss_g"] == s["loss_g"] for s in stats)  # finite, not NaN
    options = json.loads((run / "options.json").read_text())
    assert options["model"] == model and options["batch_size"] == 4
    G, _, path = load_generator(run)
    assert path == RunDir(run).snapshots()[-1]
    assert G.img_size == 32
