"""nox sessions for ladabench: tests and lint (default), ablations and bench (benchmarks, run on request).

Every session runs in the active environment (`venv_backend="none"`): torch is several GB, so one
environment is installed once (see README) and reused by every session.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the CPU test suite (extra pytest arguments pass through: `nox -s tests -- -k data`)."""
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff (line length 120 included) and that `ruff format` changes nothing."""
    paths = ("ladagan", "baselines", "bench", "tests", "scripts", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


def _option_value(args: list[str], name: str) -> str | None:
    """The value given to `name` in an argument list (`--device cuda` or `--device=cuda`), or None."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


@nox.session
def ablations(session: nox.Session) -> None:
    """Train LadaGAN, every ablation and both baselines at one equal budget, evaluate, write reports/ablations.md.

    Arguments pass to `ladabench bench ablations`: `nox -s ablations -- --kimg 200 --data cifar10 --seeds 0,1,2`.
    The default is the quick protocol (tiny presets, 16 kimg, one seed, FID/KID from 250 images) in runs/quick,
    so with the quick grid already run it trains only the four ablation variants. Cells run on local worker
    processes by default; on a cluster: `nox -s ablations -- --executor slurm --wait` (docs/cluster.md).
    """
    session.run("ladabench", "bench", "ablations", *session.posargs)
    on_this_cpu = _option_value(session.posargs, "--device") in (None, "cpu")
    if on_this_cpu and _option_value(session.posargs, "--executor") in (None, "local"):
        session.log(
            "Scale up on a GPU or a SLURM cluster: nox -s ablations -- --device cuda --preset default --data cifar10 "
            "--kimg 2000 --seeds 0,1,2 --num-gen 10000 --sample-seeds 0,1,2 [--executor slurm --wait]"
        )


@nox.session
def bench(session: nox.Session) -> None:
    """Profile every registered model at its default and tiny presets, plus the attention-scaling benchmark.

    Writes reports/profile.json (+ .csv, each step also as a fraction of the measured matmul rate) and
    reports/attention-scaling.json, which `ladabench compare
    --profile` reads. Arguments pass to `ladabench profile` (e.g. `nox -s bench -- --device cuda --res 128`).
    """
    args = list(session.posargs)
    if _option_value(args, "--repeats") is None:
        args += ["--repeats", "3"]  # paper-size presets train slowly on a CPU; three timed repeats give a median
    session.run(
        "ladabench",
        "profile",
        "all",
        "--preset",
        "default,tiny",
        "--roofline",
        *args,
        "--json",
        "reports/profile.json",
        "--csv",
        "reports/profile.csv",
    )
    device = _option_value(args, "--device")
    session.run(
        "ladabench",
        "profile",
        "--attention-scaling",
        *(["--device", device] if device else []),
        "--json",
        "reports/attention-scaling.json",
    )


@nox.session
def gpu(session: nox.Session) -> None:
    """The prepared GPU check, about 8 min on one H100/H200: writes reports/gpu.md, gpu.json, gpu-profile.json.

    Runs `pytest -m gpu`, profiles every registered model at its full preset with bf16 and torch.compile
    each on and off (CUDA events, peak memory, fraction of the measured matmul rate), and trains
    LadaGAN's cifar10 preset for 5 kimg in bf16 with compile. `nox -s gpu -- --dry-run` runs every
    stage on a CPU at toy sizes (about a minute; a CI check, not part of the test suite).
    """
    session.run("python", "scripts/gpu_report.py", *session.posargs)
