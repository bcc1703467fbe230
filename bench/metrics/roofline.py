"""The device's dense matmul rate (fp32 and bf16), measured in this process, and a step's fraction of it.

A training step's img/s says little on its own; beside the rate at which the same device multiplies
large dense matrices it says how close to the hardware the step runs. The rate is measured, not a
datasheet figure: a square matmul of `size` timed as `ladabench profile` times a step (CUDA events on
a GPU, wall clock on a CPU), best of the repeats (the device's sustained peak for that shape).
On a GPU the fp32 rate follows torch's TF32 setting (recorded beside it).
"""

from __future__ import annotations

from typing import Any

import torch

from bench.metrics.speed import is_cuda, time_calls

CPU_MATMUL_SIZE = 1024  # 2.1 GFLOP per call: ~10-100 ms on a few CPU cores
GPU_MATMUL_SIZE = 8192  # 1.1 TFLOP per call: long enough for CUDA events to be exact
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_flops_per_sec(device: str, dtype: torch.dtype, size: int, repeats: int = 5, warmup: int = 2) -> float:
    """FLOP/s of one (size x size) @ (size x size) product in `dtype` (2 size^3 FLOPs), best of `repeats`."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = time_calls(lambda: torch.mm(a, b), device, repeats, warmup)
    return 2.0 * size**3 / min(seconds)


def measure_peaks(device: str, size: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """The measured dense matmul rates of this device, fp32 and bf16, with how they were measured."""
    size = size or (GPU_MATMUL_SIZE if is_cuda(device) else CPU_MATMUL_SIZE)
    peaks: dict[str, Any] = {
        "matmul_size": size,
        "matmul_repeats": repeats,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32) if is_cuda(device) else None,
    }
    for name, dtype in DTYPES.items():
        peaks[f"matmul_{name}_flops_per_sec"] = matmul_flops_per_sec(device, dtype, size, repeats)
    return peaks


def step_dtype(row: dict[str, Any]) -> str:
    """'bf16' when a profile row's step ran under bf16 (or fp16) autocast, else 'fp32'."""
    dtype = str(row.get("dtype") or "")
    return "bf16" if ("bfloat16" in dtype or "float16" in dtype) else "fp32"


def roofline_fields(row: dict[str, Any], peaks: dict[str, Any]) -> dict[str, Any]:
    """A profile row's achieved training FLOP/s and its fraction of the matching measured matmul rate.

    FLOPs are the row's counted training FLOPs per real image (matmuls and convolutions; elementwise
    work is not counted), so the fraction is a model-FLOP utilisation against a measured, not a
    datasheet, peak. An fp16 step is compared with the bf16 rate (both half-precision tensor paths).
    """
    img_per_sec, flops = row.get("train_img_per_sec"), row.get("train_flops_per_real_image")
    if img_per_sec is None or flops is None:
        return {}
    achieved = float(img_per_sec) * float(flops)
    which = step_dtype(row)
    peak = float(peaks[f"matmul_{which}_flops_per_sec"])
    return {
        "train_flops_per_sec": achieved,
        "roofline_dtype": which,
        "matmul_peak_flops_per_sec": peak,
        "train_fraction_of_matmul_peak": achieved / peak,
    }
