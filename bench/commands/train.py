"""`ladabench train MODEL --data DATA`: train one registered model under a fixed budget of real images.

The command's options are generated from `TrainOptions` (one declaration per option: its flag, its
default and its help), plus the four that steer the command itself: --resume, --force, --dry-run, --procs.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bench.core.console import console
from bench.core.errors import UserError
from bench.core.options import command_signature as options_signature
from bench.core.paths import require_writable_folder
from bench.data import DEFAULT_DATASET, load_dataset
from bench.data.registry import make_source
from bench.train.options import CLI_FIELDS, TrainOptions, differences

if TYPE_CHECKING:
    from bench.data.types import PreparedDataset
    from bench.train.session import Resume

COMMAND_OPTIONS = {  # options of the command itself, not of the run
    "resume": (
        Path,
        typer.Option(
            None, "--resume", help="Continue a run (its folder: latest snapshot; or a snapshot file) to its budget."
        ),
    ),
    "force": (
        bool,
        typer.Option(False, "--force", help="With --resume: accept changed options (each difference is logged)."),
    ),
    "dry_run": (
        bool,
        typer.Option(False, "--dry-run", help="Print the resolved options as JSON and exit (prepares no data)."),
    ),
    "procs": (
        int,
        typer.Option(
            None,
            "--procs",
            help="Train on N processes with DistributedDataParallel (torchrun: one process per GPU with --device "
            "cuda, or CPU processes over gloo with --device cpu). --batch is the global batch.",
        ),
    ),
}
CLUSTER_OPTIONS = {  # `--executor slurm`: one SLURM job whose tasks form one torch.distributed group (docs/cluster.md)
    "executor": (str, typer.Option("local", "--executor", help="local (this machine) or slurm (one SLURM job).")),
    "nodes": (int, typer.Option(1, "--nodes", help="slurm: nodes of the job.")),
    "gpus_per_node": (
        int,
        typer.Option(None, "--gpus-per-node", help="slurm: GPUs per node, one task each (CPU: --procs tasks)."),
    ),
    "partition": (str, typer.Option(None, "--partition", help="slurm: the partition (default: the cluster's).")),
    "time_min": (int, typer.Option(24 * 60, "--time-min", help="slurm: time limit in minutes.")),
    "sbatch": (list[str], typer.Option(None, "--sbatch", help="slurm: an extra sbatch flag KEY=VALUE (repeatable).")),
    "wait": (bool, typer.Option(False, "--wait/--no-wait", help="slurm: follow the job until it ends.")),
}


def command_signature() -> inspect.Signature:
    """The Typer signature: one parameter per TrainOptions field with a flag, then the command's own options."""
    # Every option defaults to None ("not given"): the resolver fills it from the preset and the data.
    return options_signature(TrainOptions, {**COMMAND_OPTIONS, **CLUSTER_OPTIONS}, defaults=False)


def _split_list(text: str | None, flag: str, cast: type) -> list | None:
    """'0.5,0.99' -> [0.5, 0.99] (None stays None), or a UserError naming the flag."""
    if text is None:
        return None
    try:
        return [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise UserError(f"{flag} '{text}' must be two numbers separated by a comma, e.g. 0.5,0.99") from exc


def _request(given: dict[str, Any]) -> dict[str, Any]:
    """The CLI values as a resolver request (field name -> value; None = not given)."""
    request = dict(given)
    request["betas"] = _split_list(given["betas"], "--betas", float)
    request["metrics"] = _split_list(given["metrics"], "--metrics", str) or None
    request["trackers"] = _split_list(given["trackers"], "--tracker", str) or None
    request["out"] = str(given["out"]) if given["out"] is not None else None
    return request


@dataclass
class _Plan:
    """What the command will do: the resolved options, the opened data and, for --resume, the run to continue."""

    options: TrainOptions
    dataset: PreparedDataset | None  # None for a dry run (no image is read)
    resume: Resume | None


def _resolve(request: dict[str, Any], open_data: bool) -> tuple[TrainOptions, PreparedDataset | None]:
    """Resolved options and, when `open_data`, the opened dataset (its identity goes into the options)."""
    # start-up: torch (see bench.commands.common); the metrics layer counts a --budget-tflops run's FLOPs
    from bench.metrics.budget import resolve_budgeted as resolve_options

    if not open_data:  # the resolution from the registry entry, without reading or preparing any image
        return resolve_options(request, int(make_source(request["data"], request.get("data_root")).resolution)), None
    dataset = load_dataset(request["data"], request.get("data_root"))
    request = {**request, "data_content_hash": dataset.content_hash, "data_count": dataset.count}
    options = resolve_options(request, dataset.resolution)
    if dataset.count < options.batch_size:
        raise UserError(
            f"--batch {options.batch_size} is larger than dataset '{dataset.name}' ({dataset.count} images); "
            "pass a smaller --batch"
        )
    return options, dataset


def _plan(request: dict[str, Any], resume: Path | None, force: bool, dry_run: bool) -> _Plan:
    """Resolve a fresh run, or a resumed one (its stored options with the given ones laid over them)."""
    if resume is None:
        if request["model"] is None:
            raise UserError("name the model to train, e.g. `ladabench train ladagan` (or pass --resume RUN)")
        request["data"] = request["data"] or DEFAULT_DATASET
        return _Plan(*_resolve(request, open_data=not dry_run), None)
    from bench.train.session import Resume  # start-up: torch (see bench.commands.common)
    from bench.train.snapshots import split_resume_path

    run, snapshot = split_resume_path(resume, require_snapshot=False)
    stored = TrainOptions.from_json(run.read_options(), str(run.options_path)).to_json()  # older files: as trained
    inherited = {f.name: stored.get(f.name) for f in CLI_FIELDS if f.metadata["inherited"]}
    inherited["train_flops_per_image"] = stored.get("train_flops_per_image")  # the count it was budgeted with
    options, dataset = _resolve({**inherited, **{k: v for k, v in request.items() if v is not None}}, not dry_run)
    changed = differences(stored, options)
    if changed and not force and not dry_run:
        raise UserError(
            f"--resume {resume}: the options differ from the run's ({'; '.join(changed)}); "
            "drop those options to continue unchanged, or add --force to continue with them"
        )
    return _Plan(options, dataset, Resume(run, snapshot, tuple(changed)))


def train_command(**given: Any) -> None:
    """Train MODEL on DATA with the reference LadaGAN recipe (NS loss, R1, DiffAugment, EMA) under a kimg budget."""
    # start-up: torch and the metrics layer are imported only when training (see bench.commands.common)
    from bench.commands.torchrun import launch_torchrun
    from bench.metrics.hooks import snapshot_evaluator
    from bench.train.distributed import launched_world_size
    from bench.train.session import train

    resume, force, dry_run, procs = (given.pop(name) for name in COMMAND_OPTIONS)
    cluster = {name: given.pop(name) for name in CLUSTER_OPTIONS}
    if procs is not None and procs < 1:
        raise UserError(f"--procs {procs}: pass a number of processes >= 1")
    if cluster["executor"] == "slurm":
        return _train_on_slurm(given, cluster, procs, resume, force, dry_run)
    if cluster["executor"] != "local":
        raise UserError(f"--executor '{cluster['executor']}' is unknown; pass local or slurm")
    ignored = [  # SLURM options typed for a local run: refused, not silently dropped
        info.param_decls[0].split("/")[0]
        for name, (_, info) in CLUSTER_OPTIONS.items()
        if name != "executor" and cluster[name] not in (info.default, None, [], ())
    ]
    if ignored:
        one = len(ignored) == 1
        raise UserError(
            f"{', '.join(ignored)} {'has' if one else 'have'} no effect with --executor local (SLURM options); "
            f"pass --executor slurm or drop {'it' if one else 'them'}"
        )
    # --procs N (N > 1) outside torchrun: validate here (and prepare the data once), then relaunch.
    launch = procs is not None and procs > 1 and launched_world_size() == 1
    request = {**_request(given), "world_size": procs if launch else launched_world_size()}
    plan = _plan(request, resume, force, dry_run)
    on_snapshot, env_extra = snapshot_evaluator(plan.options)  # fails before anything is written (or printed)
    if dry_run:
        require_writable_folder(Path(plan.options.out), "--out")  # as the real run checks it (the probe leaves nothing)
        console.print_json(json.dumps(plan.options.to_json()))
        return
    if launch:
        raise typer.Exit(launch_torchrun(procs, plan.options, plan.resume))
    train(
        plan.options,
        resume=plan.resume,
        dataset=plan.dataset,
        console=console,
        on_snapshot=on_snapshot,
        env_extra=env_extra,
    )


def _train_on_slurm(
    given: dict[str, Any], cluster: dict[str, Any], procs: int | None, resume: Path | None, force: bool, dry_run: bool
) -> None:
    """Submit the run as one SLURM job of nodes x tasks (tasks: --gpus-per-node, else --procs) and maybe follow it."""
    # start-up: submitit, torch and the metrics layer only when submitting
    from bench.grid.distributed import submit_distributed_training, wait_for_job
    from bench.grid.executors import ExecutorOptions
    from bench.metrics.hooks import snapshot_evaluator

    gpus = cluster["gpus_per_node"]
    tasks = gpus or procs or 1
    if cluster["nodes"] < 1 or (gpus is not None and gpus < 1):
        raise UserError(f"--nodes {cluster['nodes']} and --gpus-per-node {gpus} must be at least 1")
    executor = ExecutorOptions(
        kind="slurm",
        partition=cluster["partition"],
        time_min=cluster["time_min"],
        gpus_per_task=1 if gpus else None,
        sbatch=tuple(cluster["sbatch"] or ()),
        wait=cluster["wait"],
    )
    plan = _plan({**_request(given), "world_size": cluster["nodes"] * tasks}, resume, force, dry_run)
    if dry_run:
        console.print_json(json.dumps(plan.options.to_json()))
        return
    snapshot_evaluator(plan.options)  # metric names and weights fail here, before anything is submitted
    job = submit_distributed_training(plan.options, plan.resume, executor, cluster["nodes"], tasks)
    console.print(
        f"submitted SLURM job {job.job_id}: {cluster['nodes']} node(s) x {tasks} task(s), one torch.distributed "
        f"group; logs in {job.paths.folder}"
    )
    if cluster["wait"]:
        console.print(f"run: {wait_for_job(job, console)}")


train_command.__signature__ = command_signature()  # Typer reads the generated options from here


def register(app: typer.Typer) -> None:
    """Attach `train` to the app."""
    app.command("train")(train_command)
