"""Timing and memory helpers: repeat counts, median-based throughput, per-phase CPU peak memory."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics.speed import peak_memory, throughput, time_calls


def test_time_calls_warms_up_then_times_each_repeat() -> None:
    calls = []
    seconds = time_calls(lambda: calls.append(1), "cpu", repeats=5, warmup=2)
    assert len(calls) == 7 and len(seconds) == 5 and all(s >= 0 for s in seconds)


def test_throughput_uses_median_and_range() -> None:
    stats = throughput([1.0, 2.0, 4.0], images_per_call=8)
    assert stats["img_per_sec"] == 4.0
    assert (stats["img_per_sec_min"], stats["img_per_sec_max"]) == (2.0, 8.0)


def test_cpu_peak_memory_sees_a_phase_allocation_and_resets() -> None:
    with peak_memory("cpu") as big:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        del block
    if big.increase_bytes is None:
        pytest.skip("this kernel does not allow resetting the peak RSS")
    assert big.increase_bytes > 150 * 2**20
    with peak_memory("cpu") as small:
        np.ones(1024).sum()
    assert small.increase_bytes < 50 * 2**20  # the earlier peak does not leak into this phase
