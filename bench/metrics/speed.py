"""Timing and peak memory: CUDA events on a GPU, `time.perf_counter` with synchronisation on a CPU.

Every measurement warms up first, then repeats the call and reports the median with its spread;
memory peaks are reset before each measured phase (GPU allocator statistics; on CPU the process's
peak resident set, reset through /proc/self/clear_refs where Linux allows it).
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch


def is_cuda(device: str | torch.device) -> bool:
    """True for a CUDA device string or object."""
    return torch.device(device).type == "cuda"


def synchronize(device: str | torch.device) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    if is_cuda(device):
        torch.cuda.synchronize(torch.device(device))


def time_calls(fn: Callable[[], object], device: str | torch.device, repeats: int = 10, warmup: int = 2) -> list[float]:
    """Seconds per call of `fn`, `repeats` times after `warmup` untimed calls (device events on GPU)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    seconds = []
    for _ in range(repeats):
        if is_cuda(device):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000.0)
        else:
            begin = time.perf_counter()
            fn()
            synchronize(device)
            seconds.append(time.perf_counter() - begin)
    return seconds


def throughput(seconds: list[float], images_per_call: int) -> dict[str, float]:
    """Images per second from per-call times: median, and the range over repeats."""
    median = statistics.median(seconds)
    return {
        "img_per_sec": images_per_call / median,
        "img_per_sec_min": images_per_call / max(seconds),
        "img_per_sec_max": images_per_call / min(seconds),
        "sec_per_call_median": median,
        "repeats": len(seconds),
    }


def _proc_status_bytes(key: str) -> int | None:
    """A memory field of /proc/self/status (e.g. VmHWM, VmRSS) in bytes, or None off Linux."""
    with contextlib.suppress(OSError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    return None


def _read_peak_rss_bytes() -> int:
    """Peak resident set of this process (VmHWM from /proc, else getrusage's lifetime peak)."""
    peak = _proc_status_bytes("VmHWM")
    return peak if peak is not None else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS counter (Linux: write 5 to clear_refs); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class PeakMemory:
    """Peak memory of one phase: allocated/reserved bytes on GPU, resident set on CPU."""

    device: str
    peak_allocated_bytes: int | None = None
    peak_reserved_bytes: int | None = None
    peak_rss_bytes: int | None = None
    increase_bytes: int | None = None  # peak minus what was in use when the phase began
    note: str = ""

    def as_dict(self, prefix: str) -> dict[str, object]:
        """Flat fields named `<prefix>_peak_..._bytes` (None where not measured)."""
        return {
            f"{prefix}_peak_alloc_bytes": self.peak_allocated_bytes,
            f"{prefix}_peak_reserved_bytes": self.peak_reserved_bytes,
            f"{prefix}_peak_rss_bytes": self.peak_rss_bytes,
            f"{prefix}_mem_increase_bytes": self.increase_bytes,
            f"{prefix}_memory_note": self.note,
        }


@contextlib.contextmanager
def peak_memory(device: str | torch.device) -> Iterator[PeakMemory]:
    """Measure the peak memory of the enclosed phase (reset before, read after)."""
    result = PeakMemory(device=str(device))
    if is_cuda(device):
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        yield result
        synchronize(device)
        result.peak_allocated_bytes = int(torch.cuda.max_memory_allocated(device))
        result.increase_bytes = result.peak_allocated_bytes - int(before)
        result.peak_reserved_bytes = int(torch.cuda.max_memory_reserved(device))
        result.note = "torch.cuda.max_memory_allocated/reserved, reset before the phase"
    else:
        reset = _reset_peak_rss()
        before = _proc_status_bytes("VmRSS")
        yield result
        result.peak_rss_bytes = _read_peak_rss_bytes()
        if reset and before is not None:
            result.increase_bytes = max(0, result.peak_rss_bytes - before)
        result.note = (
            "process peak RSS (VmHWM), reset before the phase"
            if reset
            else "process peak RSS since start (reset not permitted)"
        )
