"""`nox -s gpu`: the prepared GPU check, one command, about 8 minutes on one H100/H200.

    python scripts/gpu_report.py                 # on a CUDA machine: writes reports/gpu.md and reports/gpu.json
    python scripts/gpu_report.py --dry-run       # on a CPU: every stage at toy size, about a minute

Stages, in order: `pytest -m gpu`; the device's measured fp32/bf16 matmul rate; every registered model
profiled (CUDA events: img/s, peak allocated/reserved memory, fraction of the matmul rate) at its full
preset with bf16 and torch.compile each on and off; `ladagan --preset cifar10` trained for a few kimg
in bf16 with compile. Profiles run in priority order within `--budget-s`; what the budget leaves out is
listed as skipped, never silently dropped. `reports/gpu-profile.json` is a `ladabench profile` file
that `ladabench compare --profile` reads.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file from a checkout: import this checkout's bench

import torch  # noqa: E402

from bench.core.files import atomic_write_text  # noqa: E402
from bench.core.records import PROFILE_SCHEMA  # noqa: E402
from bench.metrics.profile import profile_model  # noqa: E402
from bench.metrics.roofline import measure_peaks, roofline_fields, step_dtype  # noqa: E402
from bench.registry import all_models  # noqa: E402

SCHEMA = "ladabench.gpu/1"
HEADLINE = (("cifar10", 32), ("celeba64", 64), ("ffhq128", 128))  # the authors' configs (issue targets)
MODES = ((False, False), (True, False), (True, True), (False, True))  # (bf16, compile): cheap ones first


def plan(dry_run: bool) -> list[tuple[str, str | None, int, bool, bool]]:
    """(model, preset, px, bf16, compile) in priority order: LadaGAN's headline configs, then every model."""
    if dry_run:  # tiny presets, no compile (a CPU compile takes minutes): the stages, not the numbers
        return [(m, "tiny", 32, bf16, False) for m in ("ladagan", "conv") for bf16 in (False, True)]
    # First the GPU targets (LadaGAN's three configs, fp32 eager vs bf16+compile), then every model.
    items = [("ladagan", name, px, bf16, comp) for name, px in HEADLINE for bf16, comp in (MODES[0], MODES[2])]
    for bf16, comp in MODES:
        items += [(m, None, 64, bf16, comp) for m in all_models()]
    items += [("ladagan", name, px, bf16, comp) for name, px in HEADLINE for bf16, comp in MODES]
    unique: list = []
    for item in items:
        key = (item[0], item[1] or _default_preset(item[0], item[2]), *item[2:])
        if key not in [(u[0], u[1] or _default_preset(u[0], u[2]), *u[2:]) for u in unique]:
            unique.append(item)
    return unique


def _default_preset(model: str, px: int) -> str:
    """The preset name a model uses by default at a resolution."""
    return all_models()[model].default_preset_by_resolution[px]


def run_gpu_tests(dry_run: bool) -> dict[str, Any]:
    """`pytest -m gpu` in a subprocess (collection only in a dry run): exit code, summary line, seconds."""
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    cmd += ["--collect-only"] if dry_run else []
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {
        "command": " ".join(["python", *cmd[1:]]),
        "returncode": done.returncode,
        "summary": lines[-1] if lines else "",
        "seconds": round(time.monotonic() - start, 1),
    }


def run_profiles(device: str, dry_run: bool, budget_s: float, peaks: dict[str, Any]) -> tuple[list, list]:
    """Profile rows in priority order until the budget runs out; (rows, skipped items)."""
    rows, skipped, start = [], [], time.monotonic()
    repeats, warmup = (1, 1) if dry_run else (10, 3)
    batch = 4 if dry_run else None  # None: the preset's batch on CUDA
    for model, preset, px, bf16, comp in plan(dry_run):
        label = {"model": model, "preset": preset or _default_preset(model, px), "bf16": bf16, "compile": comp}
        if time.monotonic() - start > budget_s:
            skipped.append({**label, "reason": "time budget"})
            continue
        began = time.monotonic()
        try:
            profiled = profile_model(model, preset, px, batch, "bf16" if bf16 else "off", comp, device, repeats, warmup)
            row = profiled.to_json()  # this report keeps the profile file's flat rows, with its own fields added
        except Exception as exc:  # one failing configuration must not lose the others' results
            skipped.append({**label, "reason": f"error: {type(exc).__name__}: {exc}"[:300]})
            continue
        row.update(roofline_fields(row, peaks), profile_wall_s=round(time.monotonic() - began, 1))
        rows.append(row)
        print(f"{model} {row['preset']} bf16={bf16} compile={comp}: {row['train_img_per_sec']:.1f} img/s", flush=True)
    return rows, skipped


def run_training(device: str, dry_run: bool, out_dir: Path) -> dict[str, Any]:
    """`ladabench train ladagan --preset cifar10` for a few kimg in bf16 with compile; its stats lines summarised."""
    preset, kimg, extra = ("tiny", "0.064", ["--no-compile"]) if dry_run else ("cifar10", "5", ["--compile"])
    cmd = [
        sys.executable,
        "-m",
        "bench.cli",
        "train",
        "ladagan",
        "--preset",
        preset,
        "--data",
        "fashion10k",
        "--amp",
        "bf16",
        *extra,
        "--kimg",
        kimg,
        "--tick-kimg",
        str(float(kimg) / 4),
        "--device",
        device,
        "--out",
        str(out_dir),
    ]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    shown = [*cmd[3:-1], "RUNS"]  # the run folder is temporary
    result: dict[str, Any] = {
        "command": " ".join(["ladabench", *shown]),
        "returncode": done.returncode,
        "seconds": round(time.monotonic() - start, 1),
    }
    runs = sorted(p for p in out_dir.iterdir() if p.is_dir())
    if done.returncode != 0 or not runs:
        result["error"] = (done.stderr or done.stdout)[-2000:]
        return result
    ticks = [json.loads(line) for line in (runs[-1] / "stats.jsonl").read_text().splitlines() if line.strip()]
    result.update(
        ticks=len(ticks),
        images_seen=ticks[-1]["images_seen"],
        wall_s=ticks[-1]["wall_s"],
        img_per_sec_by_tick=[t["img_per_sec"] for t in ticks],
        loss_d=ticks[-1]["loss_d"],
        loss_g=ticks[-1]["loss_g"],
        peak_mem_bytes=ticks[-1]["peak_mem_bytes"],
    )
    return result


def _mib(value: Any) -> str:
    """Bytes as whole MiB ('-' when not measured)."""
    return "-" if value is None else f"{value / 2**20:,.0f}"


def profile_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: one row per profiled configuration."""
    lines = [
        "| model | preset | batch | bf16 | compile | train img/s (min-max) | gen img/s | peak alloc MiB | "
        "peak reserved MiB | train TFLOP/s | % of matmul peak | profile s |",
        "|" + "---|" * 12,
    ]
    for r in rows:
        tflops = r.get("train_flops_per_sec")
        tflops_text = "-" if tflops is None else f"{tflops / 1e12:.3g}"
        peak_text = "-" if tflops is None else f"{100 * r['train_fraction_of_matmul_peak']:.1f} ({r['roofline_dtype']})"
        lines.append(
            f"| {r['model']} | {r['preset']} | {r['batch']} | {step_dtype(r) == 'bf16'} | {r['compile_g']} | "
            f"{r['train_img_per_sec']:.1f} ({r['train_img_per_sec_min']:.1f}-{r['train_img_per_sec_max']:.1f}) | "
            f"{r['gen_img_per_sec']:.1f} | {_mib(r.get('train_peak_alloc_bytes'))} | "
            f"{_mib(r.get('train_peak_reserved_bytes'))} | "
            f"{tflops_text} | {peak_text} | "
            f"{r['profile_wall_s']} |"
        )
    return lines


def speedups(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: per model/preset, bf16 and compile speed-ups over fp32 eager, from the rows above."""
    by_key = {(r["model"], r["preset"], step_dtype(r) == "bf16", r["compile_g"]): r["train_img_per_sec"] for r in rows}
    lines = [
        "| model | preset | bf16 / fp32 (eager) | bf16+compile / fp32 eager | compile / eager (bf16) |",
        "|---|---|---:|---:|---:|",
    ]
    for model, preset in dict.fromkeys((r["model"], r["preset"]) for r in rows):
        base = by_key.get((model, preset, False, False))

        def ratio(top, bottom):
            return "-" if top is None or bottom is None else f"{top / bottom:.2f}x"

        lines.append(
            f"| {model} | {preset} | {ratio(by_key.get((model, preset, True, False)), base)} | "
            f"{ratio(by_key.get((model, preset, True, True)), base)} | "
            f"{ratio(by_key.get((model, preset, True, True)), by_key.get((model, preset, True, False)))} |"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    """reports/gpu.md from the collected results."""
    env, peaks, train, tests = report["environment"], report["roofline"], report["training"], report["tests"]
    lines = [f"# ladabench GPU check: {env['device_name']}", ""]
    if report["dry_run"]:
        lines += ["**Dry run on CPU at toy sizes: these figures check the script, they measure nothing.**", ""]
    lines += [
        f"Generated by `nox -s gpu` (`python scripts/gpu_report.py`) on {env['date_utc']} UTC "
        f"in {report['total_s']:.0f} s; "
        f"torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}.",
        "",
        f"- `{tests['command']}`: {tests['summary']} (exit {tests['returncode']}, {tests['seconds']} s)",
        f"- Measured dense matmul rate ({peaks['matmul_size']}^2, best of {peaks['matmul_repeats']}): fp32 "
        f"{peaks['matmul_fp32_flops_per_sec'] / 1e12:.2f} TFLOP/s (TF32 {peaks['tf32_matmul']}), bf16 "
        f"{peaks['matmul_bf16_flops_per_sec'] / 1e12:.2f} TFLOP/s",
        "",
        "## Training step per model (CUDA events; FLOPs counted, elementwise work not; "
        "% of the measured matmul rate of the step's dtype)",
        "",
        *profile_table(report["profiles"]),
        "",
        "## Speed-ups",
        "",
        *speedups(report["profiles"]),
        "",
    ]
    if report["skipped"]:
        lines += [
            "Not profiled: "
            + "; ".join(
                f"{s['model']} {s['preset']} bf16={s['bf16']} compile={s['compile']} ({s['reason']})"
                for s in report["skipped"]
            ),
            "",
        ]
    lines += [
        "## Short training run",
        "",
        f"`{train['command']}`: exit {train['returncode']}, {train['seconds']} s (start-up and compilation included).",
    ]
    if "ticks" in train:
        lines += [
            f"{train['images_seen']} images in {train['wall_s']} s of training; img/s per tick "
            f"{', '.join(f'{v:.0f}' for v in train['img_per_sec_by_tick'])}; last loss D {train['loss_d']:.3f}, "
            f"G {train['loss_g']:.3f}; peak memory {_mib(train['peak_mem_bytes'])} MiB."
        ]
    return "\n".join(lines) + "\n"


def environment(device: str) -> dict[str, Any]:
    """Device name and the versions the figures depend on."""
    cuda = torch.device(device).type == "cuda"
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name(torch.device(device)) if cuda else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run every stage and write the Markdown report and its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports", help="folder for gpu.md, gpu.json, gpu-profile.json")
    ap.add_argument("--budget-s", type=float, default=270.0, help="seconds for the profile stage (default 270)")
    ap.add_argument("--dry-run", action="store_true", help="CPU, toy sizes: check every stage in about a minute")
    args = ap.parse_args(argv)
    device = args.device or ("cpu" if args.dry_run else "cuda")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA device here: run on a GPU machine, or pass --dry-run to check the stages on a CPU", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    report: dict[str, Any] = {"schema": SCHEMA, "dry_run": args.dry_run, "environment": environment(device)}
    report["tests"] = run_gpu_tests(args.dry_run)
    report["roofline"] = measure_peaks(device, size=256 if args.dry_run else None)
    report["profiles"], report["skipped"] = run_profiles(device, args.dry_run, args.budget_s, report["roofline"])
    with tempfile.TemporaryDirectory(prefix="ladabench-gpu-") as tmp:
        report["training"] = run_training(device, args.dry_run, Path(tmp))
    report["total_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    profile_file = {"schema": PROFILE_SCHEMA, "rows": report["profiles"], "roofline": report["roofline"]}
    atomic_write_text(args.out / "gpu-profile.json", json.dumps(profile_file, indent=2) + "\n")
    atomic_write_text(args.out / "gpu.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(args.out / "gpu.md", render(report))
    print(f"wrote {args.out / 'gpu.md'} ({report['total_s']:.0f} s)")
    return 0 if report["tests"]["returncode"] in (0, 5) and report["training"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
