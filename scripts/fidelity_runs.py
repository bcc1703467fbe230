"""Training fidelity runs: the authors' TensorFlow trainer and ours side by side (issue #27), one thread each.

    python scripts/fidelity_runs.py speed --authors-dir /path/to/LadaGAN/tensorflow
    python scripts/fidelity_runs.py runs --authors-dir /path/to/LadaGAN/tensorflow --seeds 0,1,2

`speed` trains both for the same few hundred images, alternating them twice in one process tree
(1 thread each, the same machine at the same time), and appends img/s to `OUT/speed.jsonl`.
`runs` trains, per seed, `ladabench train` and scripts/authors_trainer.py with one recipe (the quick
benchmark's: tiny32, fashion10k, batch 16, Adam 1e-3 (0.5, 0.99), DiffAugment color,translation,
R1 1e-4 every step, G_ema decay 0.999 per step from a fresh init, fp32) to the same budget, imports
each TensorFlow checkpoint with `ladabench import authors`, and measures every snapshot's G_ema and
raw G: edge statistics (mean uint8 value of every row and column over N generated images, sample
seed 0) always, FID/KID at N (the quick benchmark's protocol, jackknife 95% intervals) at the
snapshots --fid-kimg-g / --fid-kimg-ema name (FID costs minutes on one thread).
Each result is one line of `OUT/results.jsonl`. Everything is resumable: a finished training or
evaluation is skipped, an interrupted training continues from its newest snapshot/checkpoint.
scripts/fidelity_report.py turns the folder into reports/training-fidelity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "runs" / "fidelity"
DEFAULT_PYTHON_TF = "/tmp/tfvenv/bin/python"
AUTHORS_TRAINER = REPO / "scripts" / "authors_trainer.py"
PRESET = "tiny32"
DATA = "fashion10k"
RECIPE = {"batch": 16, "lr": 1e-3}  # the quick benchmark's small-budget protocol (bench quick defaults)
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
TRAINERS = ("torch", "tf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("speed", "runs"), help="speed: side-by-side img/s; runs: train + evaluate")
    parser.add_argument("--authors-dir", type=Path, required=True, help="their tensorflow/ folder (eb3ed9c)")
    parser.add_argument("--python-tf", default=DEFAULT_PYTHON_TF, help="a Python with TensorFlow 2.13 (Keras 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the runs and results")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--trainers", default="torch,tf", help="which trainers to run: torch (ours), tf (theirs)")
    parser.add_argument("--kimg", type=float, default=8.0, help="budget per run (quick benchmark: 16)")
    parser.add_argument("--snapshot-kimg", type=float, default=2.0, help="evaluated snapshot interval")
    parser.add_argument("--num-gen", type=int, default=250, help="generated images for FID/KID (quick: 250)")
    parser.add_argument("--fid-kimg-g", default="8", help="snapshots (kimg) whose raw G gets FID/KID")
    parser.add_argument("--fid-kimg-ema", default="8", help="snapshots (kimg) whose G_ema gets FID/KID")
    parser.add_argument("--speed-kimg", type=float, default=0.64, help="kimg per trainer per speed repeat")
    parser.add_argument("--speed-repeats", type=int, default=2, help="alternations in the speed phase")
    return parser.parse_args(argv)


def one_thread_env() -> dict[str, str]:
    """The environment of every child: one torch/TensorFlow thread."""
    return {**os.environ, **ONE_THREAD}


def run_logged(cmd: list[str], log_path: Path) -> None:
    """Run a child with its output appended to a log file; a failure stops the driver with the log's name."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=one_thread_env(), cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"command failed (exit {done.returncode}); see {log_path}: {' '.join(cmd)}")


def torch_command(out: Path, seed: int, kimg: float, snapshot_kimg: float) -> list[str]:
    """`ladabench train` with the side-by-side recipe (a new run under `out`, or resuming the one there)."""
    existing = sorted(out.glob("*-ladagan-*")) if out.is_dir() else []
    if existing:
        return ["ladabench", "train", "--resume", str(existing[0])]
    lr = str(RECIPE["lr"])
    return [
        *("ladabench", "train", "ladagan", "--preset", PRESET, "--data", DATA, "--seed", str(seed)),
        *("--batch", str(RECIPE["batch"]), "--lr-g", lr, "--lr-d", lr, "--kimg", str(kimg)),
        *("--snapshot-kimg", str(snapshot_kimg), "--tick-kimg", str(snapshot_kimg), "--keep-snapshots", "0"),
        *("--out", str(out)),
    ]


def tf_command(args: argparse.Namespace, out: Path, seed: int, kimg: float, snapshot_kimg: float) -> list[str]:
    """scripts/authors_trainer.py with the same recipe (resumes from the newest checkpoint in `out`)."""
    return [
        *(args.python_tf, str(AUTHORS_TRAINER), "--authors-dir", str(args.authors_dir), "--out", str(out)),
        *("--seed", str(seed), "--kimg", str(kimg), "--snapshot-kimg", str(snapshot_kimg)),
        *("--batch", str(RECIPE["batch"]), "--lr", str(RECIPE["lr"]), "--threads", "1"),
    ]


def torch_run_dir(out: Path) -> Path | None:
    """The ladabench run folder under `out` (None before training started)."""
    found = sorted(out.glob("*-ladagan-*")) if out.is_dir() else []
    return found[0] if found else None


def speed_phase(args: argparse.Namespace) -> None:
    """Both trainers on the same images, alternated; img/s after start-up (XLA compile counted apart)."""
    speed_dir = args.out / "speed"
    for repeat in range(args.speed_repeats):
        for trainer in TRAINERS:
            out = speed_dir / f"{trainer}-r{repeat}"
            if trainer == "torch":
                if torch_run_dir(out) is None:
                    run_logged(torch_command(out, 0, args.speed_kimg, args.speed_kimg / 4), speed_dir / "log.txt")
                stats = [json.loads(x) for x in (torch_run_dir(out) / "stats.jsonl").read_text().splitlines()]
                ticks = [s for s in stats if s.get("tick", 0) > 1]  # the first tick holds start-up
                images = sum(s["tick_s"] * s["img_per_sec"] for s in ticks)
                img_per_sec, startup_s = images / sum(s["tick_s"] for s in ticks), stats[0]["tick_s"]
            else:
                if not (out / "stats.jsonl").is_file():
                    run_logged(tf_command(args, out, 0, args.speed_kimg, args.speed_kimg / 4), speed_dir / "log.txt")
                stats = [json.loads(x) for x in (out / "stats.jsonl").read_text().splitlines()]
                img_per_sec, startup_s = stats[-1]["img_per_sec"], stats[-1]["compile_s"]
            line = {
                "trainer": trainer,
                "repeat": repeat,
                "kimg": args.speed_kimg,
                "img_per_sec": round(img_per_sec, 2),
                "startup_s": round(startup_s, 2),
                "threads": 1,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            append_line(args.out / "speed.jsonl", line, key=("trainer", "repeat"))
            print(json.dumps(line), flush=True)


def append_line(path: Path, line: dict, key: tuple[str, ...]) -> None:
    """Append a JSON line unless one with the same key fields is already there."""
    if path.is_file():
        for old in path.read_text().splitlines():
            if all(json.loads(old).get(k) == line.get(k) for k in key):
                return
    with open(path, "a") as fh:
        fh.write(json.dumps(line) + "\n")


def done_keys(path: Path) -> set[tuple]:
    """(trainer, seed, kimg, generator, has FID/KID) of the results already in results.jsonl."""
    if not path.is_file():
        return set()
    return {
        (r["trainer"], r["seed"], r["kimg"], r["generator"], bool(r["metrics"]))
        for r in map(json.loads, path.read_text().splitlines())
    }


def tf_checkpoints(out: Path) -> list[tuple[float, Path]]:
    """(kimg, ckpt prefix) of the TensorFlow run's checkpoints, oldest first."""
    found = []
    for index in (out / "training-checkpoints").glob("ckpt-*.index"):
        prefix = index.with_suffix("")
        found.append((int(prefix.name.split("-")[1]) / 1000, prefix))
    return sorted(found)


def imported_run(out: Path, kimg: float) -> Path | None:
    """The ladabench run that `ladabench import authors` made from the checkpoint at `kimg`, if any."""
    for run in sorted((out / "imported").glob("*-ladagan-*")):
        if abs(float(json.loads((run / "options.json").read_text())["total_kimg"]) - kimg) < 1e-9:
            return run
    return None


def snapshots_to_evaluate(trainer: str, out: Path) -> list[tuple[float, Path]]:
    """(kimg, snapshot file) of a finished run: ours directly, the authors' after import."""
    from bench.core.rundir import RunDir, snapshot_kimg

    if trainer == "torch":
        return [(float(snapshot_kimg(p)), p) for p in RunDir(torch_run_dir(out)).snapshots()]
    found = []
    for kimg, prefix in tf_checkpoints(out):
        run = imported_run(out, kimg)
        if run is None:
            cmd = ["ladabench", "import", "authors", str(prefix), "--preset", PRESET, "--data", DATA]
            run_logged([*cmd, "--out", str(out / "imported")], out / "import-log.txt")
            run = imported_run(out, kimg)
        found.append((kimg, RunDir(run).latest_snapshot()))
    return found


def edge_stats(images) -> dict:
    """Mean uint8 value (over images and channels) of every row and every column: edges and interior."""
    rows = images.mean(axis=(0, 2, 3))
    cols = images.mean(axis=(0, 1, 3))
    return {"row_means": [round(float(v), 3) for v in rows], "col_means": [round(float(v), 3) for v in cols]}


def kimg_list(text: str) -> set[float]:
    """'4,8,16' -> {4.0, 8.0, 16.0}."""
    return {float(k) for k in text.split(",") if k.strip()}


def evaluate(args: argparse.Namespace, trainer: str, seed: int, out: Path, tools: dict) -> None:
    """Edge statistics of G_ema and raw G at every snapshot, FID/KID at the chosen ones, into results.jsonl."""
    import torch

    import ladagan
    from bench.metrics.evaluate import evaluate_generator
    from bench.metrics.generate import generate_uint8
    from bench.train.state import load_snapshot

    results_path = args.out / "results.jsonl"
    done = done_keys(results_path)
    fid_at = {"G": kimg_list(args.fid_kimg_g), "G_ema": kimg_list(args.fid_kimg_ema)}
    for kimg, snapshot in snapshots_to_evaluate(trainer, out):
        state = None
        for which in ("G_ema", "G"):
            with_fid = kimg in fid_at[which]
            if (trainer, seed, kimg, which, with_fid) in done or (trainer, seed, kimg, which, True) in done:
                continue
            state = state or load_snapshot(snapshot)
            generator, _ = ladagan.build(ladagan.PRESETS[PRESET], init=False)
            generator.load_state_dict(state[which])
            generator.eval()
            started = time.perf_counter()
            lines = []
            if with_fid:
                lines = evaluate_generator(
                    generator, tools["dataset"], tools["metrics"], tools["extractor"], seeds=[0], show_progress=False
                )
            with torch.no_grad():
                images = generate_uint8(generator, seed=0, count=args.num_gen)
            row = {
                "trainer": trainer,
                "seed": seed,
                "kimg": kimg,
                "generator": which,
                "snapshot": str(snapshot.relative_to(args.out)),
                "metrics": {line.metric: line.to_json() for line in lines},
                **edge_stats(images),
                "eval_s": round(time.perf_counter() - started, 1),
            }
            with open(results_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            fid = next((v["value"] for k, v in row["metrics"].items() if k.startswith("fid")), float("nan"))
            print(
                f"{trainer} seed {seed} {kimg} kimg {which}: FID {fid:.1f}, row0 {row['row_means'][0]:.1f}", flush=True
            )


def runs_phase(args: argparse.Namespace) -> None:
    """Per seed: train ours, train theirs, evaluate both (so partial results are whole seeds)."""
    import torch

    from bench.data import load_dataset
    from bench.metrics.features import load_feature_extractor
    from bench.metrics.names import resolve_metric_names

    torch.set_num_threads(1)
    tools = {
        "dataset": load_dataset(DATA),
        "metrics": resolve_metric_names(["fid", "kid"], args.num_gen, args.num_gen),
        "extractor": load_feature_extractor("inception", device="cpu"),
    }
    for seed in [int(s) for s in args.seeds.split(",")]:
        for trainer in [t for t in TRAINERS if t in args.trainers.split(",")]:
            out = args.out / f"{trainer}-seed{seed}"
            log = args.out / f"{trainer}-seed{seed}.log"
            if trainer == "torch":
                if not _torch_finished(torch_run_dir(out), args.kimg):
                    run_logged(torch_command(out, seed, args.kimg, args.snapshot_kimg), log)
            elif not any(abs(k - args.kimg) < 1e-9 for k, _ in tf_checkpoints(out)):
                run_logged(tf_command(args, out, seed, args.kimg, args.snapshot_kimg), log)
            evaluate(args, trainer, seed, out, tools)


def _torch_finished(run: Path | None, kimg: float) -> bool:
    """Whether our run reached its budget (its newest snapshot is at `kimg`)."""
    if run is None:
        return False
    from bench.core.rundir import RunDir, snapshot_kimg

    snaps = RunDir(run).snapshots()
    return bool(snaps) and abs(float(snapshot_kimg(snaps[-1])) - kimg) < 1e-9


def main(argv: list[str] | None = None) -> None:
    """Run the chosen phase."""
    args = parse_args(argv)
    if not (args.authors_dir / "trainer.py").is_file():
        raise SystemExit(f"--authors-dir {args.authors_dir} has no trainer.py; pass the tensorflow/ folder of LadaGAN")
    args.out.mkdir(parents=True, exist_ok=True)
    speed_phase(args) if args.phase == "speed" else runs_phase(args)


if __name__ == "__main__":
    main()
