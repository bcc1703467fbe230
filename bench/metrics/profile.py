"""Cost profile of a registered model at a preset: params, MACs, training FLOPs, img/s, peak memory.

Units, stated in every output: `g_macs_per_image` counts multiply-adds of one generator forward pass
(fvcore); `*_flops_*` fields are FLOPs = 2 x MACs (FlopCounterMode). Training cost is one full
iteration of the suite's training step (D step with R1, then G step, DiffAugment, EMA update) per
real image shown to D; with the preset's bCR on, the D step's extra pass over the augmented reals
and fakes (and its backward) is included. With lazy R1 (`r1_interval` K > 1, `train --r1-interval`)
counts and timings cover K consecutive iterations (one with R1, K-1 without) per real image of them,
i.e. R1 at 1/K of its cost per iteration; K = 1 (the default) is the reference step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import platform
from typing import Any

import torch
from torch import nn

from bench.core.errors import UserError
from bench.core.paths import cache_dir
from bench.core.records import PhaseTiming, ProfileRow, ProfileSpeed
from bench.metrics.flops import counted_flops, fvcore_macs
from bench.metrics.speed import PeakMemory, is_cuda, peak_memory, throughput, time_calls
from bench.registry import get_model
from bench.train.step import AMP_DTYPES, make_step_context, train_step
from bench.zoo.spec import ModelSpec, Preset, TrainingRecipe

UNITS = (
    "MACs = multiply-adds (fvcore, G forward, per image); FLOPs = 2 x MACs (FlopCounterMode, "
    "math SDPA); train = one D step with R1 (with bCR: plus D on the augmented reals and fakes) + one "
    "G step per real image (r1_interval K > 1: the mean over K iterations, R1 on one); elementwise ops, "
    "softmax and optimizer updates not counted"
)
CPU_DEFAULT_BATCH = 8  # a preset's GPU batch (128) takes tens of seconds per iteration on 2 cores
FLOP_COUNT_BATCH = 2  # operation counts are per image; a small batch keeps counting cheap


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def amp_dtype_for(amp: str) -> torch.dtype | None:
    """The autocast dtype of an --amp mode (off, bf16, fp16), as training uses it."""
    if amp not in AMP_DTYPES:
        raise UserError(f"--amp '{amp}' is unknown; use one of {', '.join(AMP_DTYPES)}")
    return AMP_DTYPES[amp]


def _step_context(
    G: nn.Module,
    D: nn.Module,
    training: TrainingRecipe,
    device: str,
    amp_dtype: torch.dtype | None,
    compile_g: bool,
    r1_interval: int = 1,
):
    """The training step as `bench.train` builds it (augmentation stream seeded 2, as training's), G maybe compiled."""
    aug_gen = torch.Generator(torch.device(device)).manual_seed(2)
    ctx = make_step_context(G, D, training, torch.device(device).type, amp_dtype, aug_gen, r1_interval)
    if compile_g:
        ctx.G = torch.compile(G)
    return ctx


def _iterations(ctx: Any, batch: int, z_dim: int, resolution: int, device: str):
    """A closure running `ctx.r1_interval` training iterations (one lazy-R1 cycle) on a fixed random real batch."""
    reals = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1
    z_d, z_g = torch.randn(batch, z_dim, device=device), torch.randn(batch, z_dim, device=device)

    def cycle() -> None:
        """Iterations step, step+1, ... of one cycle: R1 on the first only when the interval is above 1."""
        for _ in range(ctx.r1_interval):
            train_step(ctx, reals, z_d, z_g)

    return cycle


@functools.cache
def _cached_training_flops(model: str, preset_name: str, r1_interval: int = 1) -> int:
    """`training_flops_per_image` of a registered model's preset, counted once per process (a count, not a timing)."""
    spec = get_model(model)
    return training_flops_per_image(spec, spec.presets[preset_name], r1_interval=r1_interval)


def training_flops_per_image(spec: ModelSpec, preset: Preset, device: str = "cpu", r1_interval: int = 1) -> int:
    """FLOPs (=2 x MACs) of one training iteration per real image, forward and backward (lazy R1: the cycle's mean)."""
    torch.manual_seed(0)
    G, D = (m.to(device) for m in spec.build_models(preset))
    ctx = _step_context(G, D, preset.training, device, None, False, r1_interval)
    total, _ = counted_flops(_iterations(ctx, FLOP_COUNT_BATCH, G.z_dim, preset.resolution, device))
    return total // (FLOP_COUNT_BATCH * r1_interval)


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str, amp_dtype: torch.dtype | None, compile_g: bool) -> dict[str, Any]:
    """What the speed figures depend on: device, dtype, TF32, cudnn.benchmark, compile, versions."""
    cuda = is_cuda(device)
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(torch.device(device)) if cuda else cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "dtype": str(amp_dtype).replace("torch.", "") + " autocast" if amp_dtype else "float32",
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if cuda else None,
        "compile_g": compile_g,
        "torch_version": torch.__version__,
        "timer": "CUDA events" if cuda else "time.perf_counter + synchronize",
    }


def _inductor_cache_off_tmp() -> None:
    """Point torch.compile's cache at the suite's cache unless the user chose a folder (its default is /tmp)."""
    try:  # a private helper; without it only an unset variable is replaced
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        default = os.path.abspath(default_cache_dir())
    except (ImportError, AttributeError):
        default = None
    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    # torch writes its default into the variable on first use, so "unset" may read as the default.
    if current is None or os.path.abspath(current) == default:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir("torchinductor"))


def profile_model(
    model: str,
    preset_name: str | None = None,
    resolution: int | None = None,
    batch: int | None = None,
    amp: str = "off",
    compile_g: bool = False,
    device: str = "cpu",
    repeats: int = 10,
    warmup: int = 2,
    measure_speed: bool = True,
    r1_interval: int = 1,
) -> ProfileRow:
    """One profile row: params, G MACs/image, training FLOPs/real image, generation and training img/s, peak memory."""
    spec = get_model(model)
    preset = spec.preset(preset_name, resolution)
    torch.manual_seed(0)
    G, D = spec.build_models(preset)
    res = int(preset.resolution)
    g_macs, g_by_op = fvcore_macs(G, (torch.randn(1, G.z_dim),))
    d_macs, _ = fvcore_macs(D, (torch.randn(1, 3, res, res),))
    row = ProfileRow(
        model=spec.name,
        preset=preset.name,
        resolution=res,
        kind=spec.kind,
        params_g=count_params(G),
        params_d=count_params(D),
        g_macs_per_image=g_macs,
        g_flops_per_image=2 * g_macs,
        d_macs_per_image=d_macs,
        g_macs_by_op=g_by_op,
        train_flops_per_real_image=_cached_training_flops(spec.name, preset.name, r1_interval),
        r1_interval=r1_interval,
        units=UNITS,
    )
    if not measure_speed:
        return row
    batch = batch or (preset.training.batch_size if is_cuda(device) else CPU_DEFAULT_BATCH)
    amp_dtype = amp_dtype_for(amp)
    if compile_g:
        _inductor_cache_off_tmp()
    G, D = G.to(device), D.to(device)
    gen_G = torch.compile(G) if compile_g else G
    z = torch.randn(batch, G.z_dim, device=device)
    autocast = (
        (lambda: torch.autocast(torch.device(device).type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    )

    def generate() -> None:
        """One generation batch with the EMA-style inference setting (eval, no grad)."""
        with torch.no_grad(), autocast():
            gen_G(z)

    G.eval()
    with peak_memory(device) as gen_mem:
        gen_times = time_calls(generate, device, repeats, warmup)
    G.train()
    ctx = _step_context(G, D, preset.training, device, amp_dtype, compile_g, r1_interval)
    cycle = _iterations(ctx, batch, G.z_dim, res, device)
    with peak_memory(device) as train_mem:
        train_times = time_calls(cycle, device, repeats, warmup)
    speed = ProfileSpeed(
        batch=batch,
        warmup=warmup,
        **environment(device, amp_dtype, compile_g),
        gen=_phase(throughput(gen_times, batch), gen_mem),
        train=_phase(throughput(train_times, batch * r1_interval), train_mem),
    )
    return dataclasses.replace(row, speed=speed)


def _phase(speed: dict[str, Any], memory: PeakMemory) -> PhaseTiming:
    """One timed phase: throughput over the repeats and the phase's peak memory."""
    return PhaseTiming(**speed, **{k.removeprefix("phase_"): v for k, v in memory.as_dict("phase").items()})
