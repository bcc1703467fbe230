"""Helpers of the grid tests: the local SLURM check, tiny grid arguments, run comparisons (imported by name)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.core.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local_slurm.sh"
# The tiny grid of these tests: two models, two steps of batch 16, FID/KID of 16 images with the fast test network.
TINY = ["--kimg", "0.032", "--num-gen", "16", "--features", "random-conv", "--no-profile", "--spread-from", "none"]
TINY_MODELS = "ladagan,conv"


LOCAL_CLUSTER = "ladabench"  # the ClusterName scripts/local_slurm.sh writes


def slurm_answers() -> bool:
    """Whether `sinfo` lists an up partition."""
    if shutil.which("sinfo") is None:
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%a"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "up" in done.stdout


def cluster_name() -> str | None:
    """The ClusterName of the SLURM that answers."""
    done = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=False)
    names = [line.split("=", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("ClusterName")]
    return names[0] if names else None


def grid_args(root: Path, *extra: str, models: str = TINY_MODELS, seeds: str = "0") -> list[str]:
    """`ladabench bench quick` arguments of a tiny grid in `root`."""
    return [
        "bench",
        "quick",
        "--models",
        models,
        "--seeds",
        seeds,
        *TINY,
        "--runs-dir",
        str(root / "runs"),
        "--out",
        str(root / "rep" / "q.md"),
        *extra,
    ]


def runs_by_cell(runs: Path) -> dict[str, RunDir]:
    """The grid's runs by cell name ('<model>-seed<S>')."""
    found = {}
    for run in RunDir.children(runs):
        options = run.read_options()
        found[f"{options['model']}-seed{options['seed']}"] = run
    return found


def final_state(run: RunDir) -> dict[str, Any]:
    """The tensors of a run's final snapshot: G, D, G_ema and both optimizers."""
    snap = torch.load(run.latest_snapshot(), map_location="cpu", weights_only=False)
    return {k: snap[k] for k in ("G", "D", "G_ema", "opt_g", "opt_d")}


def assert_bitwise_equal(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts/lists of tensors equal element for element, bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_bitwise_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_bitwise_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def metric_values(run: RunDir) -> dict[tuple[str, str | None], float]:
    """Every metric line's value by (metric, snapshot)."""
    return {(line.metric, line.snapshot): line.value for line in run.metric_lines()}


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll until `condition()` holds; fail naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
