"""`ladabench train MODEL --data DATA`: train one registered model under a fixed budget of real images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bench.errors import UserError


def _parse_betas(text: str | None) -> list[float] | None:
    """'0.5,0.99' -> [0.5, 0.99]."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise UserError(f"--betas '{text}' must be two numbers separated by a comma, e.g. 0.5,0.99") from exc


def _data_resolution(data: str, data_root: str | None) -> int:
    """The dataset's resolution from its registry entry, without reading or preparing any image."""
    from bench.data.registry import make_source

    return int(make_source(data, data_root).resolution)


def _resolve(request: dict[str, Any], open_data: bool):
    """Resolved options and, when `open_data`, the opened dataset (its identity goes into the options)."""
    from bench.data import load_dataset
    from bench.train.options import resolve_options

    dataset = None
    if open_data:
        dataset = load_dataset(request["data"], request.get("data_root"))
        request = {**request, "data_content_hash": dataset.content_hash, "data_count": dataset.count}
        resolution = dataset.resolution
    else:
        resolution = _data_resolution(request["data"], request.get("data_root"))
    options = resolve_options(request, resolution)
    if dataset is not None and dataset.count < options["batch_size"]:
        raise UserError(
            f"--batch {options['batch_size']} is larger than dataset '{dataset.name}' ({dataset.count} images); "
            "pass a smaller --batch"
        )
    return options, dataset


def _resume_request(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The stored run's options with the options given on this command line laid over them."""
    request = {
        "model": stored["model"], "data": stored["data"], "preset": stored["preset"],
        "total_kimg": stored["total_kimg"], "minutes": stored["minutes"], "batch_size": stored["batch_size"],
        "seed": stored["seed"], "r1_gamma": stored["r1_gamma"], "ema_decay": stored["ema_decay"],
        "lr_g": stored["lr_g"], "lr_d": stored["lr_d"], "betas": stored["betas"], "amp": stored["amp"],
        "compile": stored["compile"], "deterministic": stored["deterministic"],
        "tick_kimg": stored["tick_kimg"], "snapshot_kimg": stored["snapshot_kimg"],
        "eval_kimg": stored["eval_kimg"], "metrics": stored["metrics"], "data_root": stored["data_root"], "out": stored["out"],
        "keep_snapshots": stored.get("keep_snapshots"),
    }
    request.update({k: v for k, v in given.items() if v is not None})
    return request


def train_command(
    ctx: typer.Context,
    model: str = typer.Argument(None, help="Registered model to train (see `ladabench models`). Not needed with --resume."),
    data: str = typer.Option(None, "--data", help="Dataset name or folder:PATH[@RES] (default: the embedded fashion10k)."),
    preset: str = typer.Option(None, "--preset", help="Model preset; 'tiny' = the tiny one at the data's resolution. Default: the preset for the data's resolution."),
    kimg: float = typer.Option(None, "--kimg", help="Budget in thousands of real images shown to D (training stops exactly there)."),
    minutes: float = typer.Option(None, "--minutes", help="Wall-clock budget in minutes, summed over resumed sessions; with --kimg the first reached stops."),
    batch: int = typer.Option(None, "--batch", help="Batch size for both D and G steps (default: the preset's)."),
    seed: int = typer.Option(None, "--seed", help="Seed for weights, data order, latents and augmentation (default 0)."),
    r1_gamma: float = typer.Option(None, "--r1-gamma", help="R1 weight on mean ||grad of sum(D(aug(x)))||^2 (default: the preset's; reference 1e-4)."),
    ema_decay: float = typer.Option(None, "--ema-decay", help="G_ema decay per step (default: the preset's; reference 0.999)."),
    lr_g: float = typer.Option(None, "--lr-g", help="Adam learning rate of G (default: the preset's)."),
    lr_d: float = typer.Option(None, "--lr-d", help="Adam learning rate of D (default: the preset's)."),
    betas: str = typer.Option(None, "--betas", help="Adam betas as B1,B2 (default: the preset's, reference 0.5,0.99)."),
    amp: str = typer.Option(None, "--amp", help="Mixed precision: off (default, FP32 as the reference), bf16, or fp16 (with loss scaling)."),
    compile_: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile G (D stays eager: R1 needs a double backward)."),
    deterministic: bool = typer.Option(None, "--deterministic/--no-deterministic", help="Deterministic kernels: bitwise-repeatable runs and resumes (slower on GPU)."),
    device: str = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)."),
    out: Path = typer.Option(None, "--out", help="Folder that receives the run directory (default: runs/)."),
    resume: Path = typer.Option(None, "--resume", help="Continue a run (its folder: latest snapshot; or a snapshot file) to its budget."),
    force: bool = typer.Option(False, "--force", help="With --resume: accept changed options (each difference is logged)."),
    tick_kimg: float = typer.Option(None, "--tick-kimg", help="Interval of stats lines and progress updates in kimg (default: ~1/10 of the budget, at most 4)."),
    snapshot_kimg: float = typer.Option(None, "--snapshot-kimg", help="Snapshot interval in kimg (default 200; a final snapshot is always written)."),
    stop_kimg: float = typer.Option(None, "--stop-kimg", help="End this session after this many kimg with a snapshot; the budget stays for --resume."),
    eval_kimg: float = typer.Option(None, "--eval-kimg", help="Evaluate --metrics every this many kimg (default: at every snapshot) and at the end."),
    metrics: str = typer.Option(None, "--metrics", help="Comma-separated metrics to evaluate during training, e.g. fid500_train."),
    data_root: str = typer.Option(None, "--data-root", help="Folder holding the dataset files (or $LADABENCH_DATA)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved options as JSON and exit (prepares no data)."),
    keep_snapshots: int = typer.Option(None, "--keep-snapshots", help="Keep only the newest K snapshots (default 3; 0 keeps all); the newest is never removed."),
    gpus: int = typer.Option(None, "--gpus", help="Train on N processes with DistributedDataParallel (launches torchrun; one per GPU, or CPU processes over gloo with --device cpu). --batch is the global batch."),
) -> None:
    """Train MODEL on DATA with the reference LadaGAN recipe (NS loss, R1, DiffAugment, EMA) under a kimg budget."""
    from bench.cli import console
    from bench.train.distributed import launched_world_size
    from bench.train.options import differences

    if gpus is not None and gpus < 1:
        raise UserError(f"--gpus {gpus}: pass a number of processes >= 1")
    # --gpus N (N > 1) outside torchrun: validate here (and prepare the data once), then relaunch.
    launch = gpus is not None and gpus > 1 and launched_world_size() == 1
    world_size = gpus if launch else launched_world_size()
    given = {
        "model": model, "data": data, "preset": preset, "total_kimg": kimg, "minutes": minutes,
        "batch_size": batch, "seed": seed, "r1_gamma": r1_gamma, "ema_decay": ema_decay, "lr_g": lr_g,
        "lr_d": lr_d, "betas": _parse_betas(betas), "amp": amp, "compile": compile_,
        "deterministic": deterministic, "device": device, "out": str(out) if out is not None else None,
        "tick_kimg": tick_kimg, "snapshot_kimg": snapshot_kimg, "stop_kimg": stop_kimg, "eval_kimg": eval_kimg,
        "metrics": [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
        "data_root": data_root, "keep_snapshots": keep_snapshots, "world_size": world_size,
    }
    if resume is not None:
        from bench.train import rundir

        run_dir, snapshot = rundir.split_resume_path(resume, require_snapshot=False)
        stored = rundir.read_options(run_dir)
        options, dataset = _resolve(_resume_request(stored, given), open_data=not dry_run)
        if dry_run:
            console.print_json(json.dumps(options))
            return
        changed = differences(stored, options)
        if changed and not force:
            listing = "; ".join(changed)
            raise UserError(
                f"--resume {resume}: the options differ from the run's ({listing}); "
                "drop those options to continue unchanged, or add --force to continue with them"
            )
        if launch:
            raise typer.Exit(_launch_torchrun(ctx, gpus, options, run_dir))
        _start(options, dataset, run_dir=run_dir, snapshot=snapshot, changed=changed, resume=True)
        return
    if model is None:
        raise UserError("name the model to train, e.g. `ladabench train ladagan` (or pass --resume RUN)")
    if given["data"] is None:
        from bench.data import DEFAULT_DATASET

        given["data"] = DEFAULT_DATASET
    options, dataset = _resolve(given, open_data=not dry_run)
    if dry_run:
        console.print_json(json.dumps(options))
        return
    if launch:
        raise typer.Exit(_launch_torchrun(ctx, gpus, options, None))
    _start(options, dataset, run_dir=None, snapshot=None, changed=[], resume=False)


def _launch_torchrun(ctx: typer.Context, nproc: int, options: dict, run_dir: Path | None) -> int:
    """Re-run this very command under `torchrun --standalone --nproc_per_node N` and return its exit code.

    What can be checked here is checked first (options, data, metrics, the run lock), so a mistake
    gets one clear message instead of N workers failing inside torchrun.
    """
    import subprocess
    import sys

    import torch

    from bench.train import rundir
    from bench.train.lock import RunLock
    from bench.train.loop import metrics_hook

    metrics_hook(options)
    if run_dir is not None:
        with RunLock(run_dir, log=lambda line: rundir.log(run_dir, line)):
            pass  # a live writer is refused now; a stale lock is logged and cleared
    if options["device"].startswith("cuda") and nproc > torch.cuda.device_count():
        raise UserError(f"--gpus {nproc}: this machine has {torch.cuda.device_count()} CUDA devices; "
                        "pass at most that many, or --device cpu for CPU processes")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "bench.cli", "train", *_command_args(ctx, skip={"gpus"})]
    return subprocess.run(command, check=False).returncode


def _command_args(ctx: typer.Context, skip: set[str]) -> list[str]:
    """The command line that gives this command its current parameter values (defaults left out)."""
    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in skip or value is None or (param.name in ("force", "dry_run") and not value):
            continue
        if param.param_type_name == "argument":
            args.append(str(value))
        elif param.is_flag and param.secondary_opts:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            args.append(param.opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


def _start(options: dict, dataset: Any, run_dir: Path | None, snapshot: Path | None, changed: list[str], resume: bool) -> None:
    """Create (or reopen and lock) the run directory, train, and print the one-line summary."""
    from rich.console import Console

    from bench.cli import console
    from bench.train import distributed, rundir
    from bench.train.lock import RunLock
    from bench.train.loop import metrics_hook

    metrics_hook(options)  # fail before creating anything when --metrics cannot be honoured
    info = distributed.init(options["device"])
    try:
        if not info.is_writer:  # only rank 0 prints and writes; the others follow its choices
            _train_session(options, dataset, info, Console(quiet=True), None, snapshot, changed, resume)
            return
        if options["device"] == "cpu" and not options["preset"].startswith("tiny"):
            console.print(f"[yellow]note:[/] training preset '{options['preset']}' on CPU will be slow; "
                          "`--preset tiny` is the CPU-sized variant")
        if run_dir is None:
            run_dir = rundir.create_run_dir(Path(options["out"]), options)
        with RunLock(run_dir, log=lambda line: rundir.log(run_dir, line)):
            _train_session(options, dataset, info, console, run_dir, snapshot, changed, resume)
    finally:
        distributed.shutdown()


def _train_session(options: dict, dataset: Any, info: Any, console: Any, run_dir: Path | None,
                   snapshot: Path | None, changed: list[str], resume: bool) -> None:
    """Write the run's files (rank 0), restore a resumed run on every rank, train, print the summary."""
    import torch

    from bench.train import distributed, rundir
    from bench.train.loop import Trainer, determinism
    from bench.train.snapshots import load_resumable, remove_partial_writes
    from bench.train.state import atomic_write_json, load_snapshot

    snap = None
    if info.is_writer:
        if resume:  # chosen under the lock: no other writer can add or change snapshots meanwhile
            warn = lambda line: (rundir.log(run_dir, "warning: " + line), console.print(f"[yellow]warning:[/] {line}"))  # noqa: E731
            for leftover in remove_partial_writes(run_dir):
                rundir.log(run_dir, f"removed {leftover.name}, a partial write of an interrupted session")
            snapshot, snap = load_resumable(run_dir, snapshot, warn)
        atomic_write_json(run_dir / "options.json", options)
        if not resume:
            rundir.write_env(run_dir, options["device"])
        else:  # env.json describes the first session; a resumed one is recorded in the log
            env = rundir.environment_info(options["device"])
            rundir.log(run_dir, "resume session: " + " ".join(f"{k}={env[k]}" for k in ("hostname", "torch", "gpu_name", "git_sha")))
            rundir.log(run_dir, "command line: " + " ".join(env["command_line"]))
    run_dir, snapshot = distributed.broadcast_object((run_dir, snapshot), info)
    if resume and snap is None:
        snap = load_snapshot(snapshot)  # ranks above 0 read the snapshot rank 0 chose
    with determinism(options["deterministic"], torch.device(options["device"])):
        trainer = Trainer(run_dir, options, dataset, console, info)
        if resume:
            trainer.restore(snapshot, snap)
            for line in changed:
                trainer.log(f"resumed with --force; changed: {line}")
            trainer.log(f"resumed from {snapshot.name} at {trainer.counters.images_seen} images "
                        f"on {info.world_size} process(es)")
        else:
            trainer.log(f"start: {options['model']} preset {options['preset']} on {options['data']}, "
                        f"budget {options['total_kimg']} kimg / {options['minutes']} min, device {options['device']}, "
                        f"{info.world_size} process(es)")
        console.print(f"run directory: {run_dir}")
        result = trainer.run()
    stats = result.last_stats
    losses = ""
    if stats:
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731 - None: fp16 skipped every step
        losses = f", loss D {fmt(stats['loss_d'])} G {fmt(stats['loss_g'])}, {stats['img_per_sec']:.1f} img/s"
    console.print(
        f"[bold green]done[/] ({result.stop_reason}): {result.images_seen / 1000:g} kimg in "
        f"{result.wall_seconds:.1f} s{losses}; run: {result.run_dir}"
    )


def register(app: typer.Typer) -> None:
    """Attach `train` to the app."""
    app.command("train")(train_command)
