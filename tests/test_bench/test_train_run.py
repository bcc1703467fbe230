"""`ladabench train` end to end on the tiny LadaGAN preset and the embedded dataset (CPU, seconds).

Each run is a few iterations of batch 8 at 32 px: enough to check the budget, the run directory,
resume equivalence, option checks on resume and the NaN guard.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import bench.train.loop as loop
from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.snapshots import load_generator
from bench.train.state import load_snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def _train(args: list[str], out: Path) -> int:
    """Run `ladabench train` in this process with a private output folder."""
    return main(["train", *args, "--out", str(out)])


def _only_run(out: Path) -> Path:
    """The single run folder under `out`."""
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _stats(run: Path) -> list[dict]:
    """stats.jsonl of a run, one dict per tick."""
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_budget_stops_exactly_and_leaves_a_complete_run_directory(tmp_path, capsys):
    # 20 images at batch 8: two full batches and a last batch of 4.
    assert _train([*TINY, "--kimg", "0.02", "--seed", "1"], tmp_path) == 0
    run = _only_run(tmp_path)
    assert run.name == "00000-ladagan-fashion10k-tiny32-kimg0.02-seed1"
    assert run.name in capsys.readouterr().out.replace("\n", "")
    stats = _stats(run)
    assert [s["images_seen"] for s in stats] == [8, 16, 20]
    assert [s["step"] for s in stats] == [1, 2, 3]
    for key in (
        "kimg",
        "wall_s",
        "img_per_sec",
        "loss_d",
        "loss_g",
        "r1",
        "grad_norm_d",
        "grad_norm_g",
        "peak_mem_bytes",
    ):
        assert key in stats[-1]
    assert stats[-1]["r1"] > 0 and stats[-1]["peak_mem_bytes"] > 0
    snap = load_snapshot(RunDir(run).snapshots()[-1])  # weights_only=True
    assert snap["images_seen"] == 20
    assert {"G", "D", "G_ema", "opt_g", "opt_d", "scaler", "rng", "images_seen", "wall_seconds", "options"} <= set(snap)
    options = json.loads((run / "options.json").read_text())
    assert options["total_kimg"] == 0.02 and options["preset"] == "tiny32" and options["batch_size"] == 8
    assert options["preset_config"]["training"]["batch_size"] == 8
    env = json.loads((run / "env.json").read_text())
    for key in (
        "python",
        "torch",
        "cuda",
        "cudnn",
        "gpu_name",
        "git_sha",
        "git_dirty",
        "clean_fid",
        "hostname",
        "command_line",
    ):
        assert key in env
    assert (run / "samples-000000.png").stat().st_size > 0
    assert "stopped (budget) at 20 images" in (run / "log.txt").read_text()
    G, loaded_options, path = load_generator(run)
    assert path == RunDir(run).snapshots()[-1] and loaded_options.to_json() == options
    assert all(torch.equal(v, snap["G_ema"][k]) for k, v in G.state_dict().items())
    assert not G.training and G(torch.randn(2, G.z_dim)).shape == (2, 3, 32, 32)


@pytest.mark.slow
def test_stop_and_resume_is_bitwise_equal_to_an_uninterrupted_run(tmp_path, capsys):
    args = [*TINY, "--kimg", "0.032", "--seed", "3", "--deterministic"]
    assert _train(args, tmp_path / "full") == 0
    full = _only_run(tmp_path / "full")

    assert _train([*args, "--stop-kimg", "0.016"], tmp_path / "split") == 0
    split = _only_run(tmp_path / "split")
    assert load_snapshot(RunDir(split).snapshots()[-1])["images_seen"] == 16
    capsys.readouterr()

    # A changed option is refused, each difference listed, and nothing is trained.
    assert main(["train", "--resume", str(split), "--lr-g", "0.001", "--seed", "4"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "lr_g: 0.0002 -> 0.001" in err and "seed: 3 -> 4" in err and "--force" in err
    assert [s["images_seen"] for s in _stats(split)] == [8, 16]

    assert main(["train", "--resume", str(split)]) == 0
    _assert_bitwise_equal(full, split, 32)
    assert len(_stats(full)) == 4


@pytest.mark.slow
def test_lazy_r1_resumed_at_an_odd_iteration_is_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    # --r1-interval 2: R1 on iterations 0 and 2. Stopping after 3 iterations puts the resume on an
    # iteration without R1, so a step count that did not survive the snapshot would show.
    args = [*TINY, "--kimg", "0.032", "--seed", "5", "--deterministic", "--r1-interval", "2"]
    assert _train(args, tmp_path / "full") == 0
    assert _train([*args, "--stop-kimg", "0.024"], tmp_path / "split") == 0
    split = _only_run(tmp_path / "split")
    assert load_snapshot(RunDir(split).snapshots()[-1])["step"] == 3
    assert main(["train", "--resume", str(split)]) == 0
    full = _only_run(tmp_path / "full")
    _assert_bitwise_equal(full, split, 32)
    assert [s["r1"] > 0 for s in _stats(full)] == [True, False, True, False]  # one iteration per tick


def _assert_bitwise_equal(full: Path, split: Path, images: int) -> None:
    """Both runs end at `images` with bitwise equal G_ema, G and D and the same per-tick losses and R1."""
    a, b = load_snapshot(RunDir(full).snapshots()[-1]), load_snapshot(RunDir(split).snapshots()[-1])
    assert a["images_seen"] == b["images_seen"] == images
    for key in ("G_ema", "G", "D"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    losses = lambda run: [(s["images_seen"], s["loss_d"], s["loss_g"], s["r1"]) for s in _stats(run)]  # noqa: E731
    assert losses(full) == losses(split)


def test_nan_stops_the_run_naming_loss_and_step_and_keeps_the_last_good_snapshot(tmp_path, capsys, monkeypatch):
    real_step = loop.train_step
    calls = {"n": 0}

    def poisoned_step(ctx, reals, z_d, z_g):
        """The real step, except that D's weights turn to NaN before the third iteration (step 2)."""
        if calls["n"] == 2:
            with torch.no_grad():
                next(ctx.D.parameters()).fill_(float("nan"))
        calls["n"] += 1
        return real_step(ctx, reals, z_d, z_g)

    monkeypatch.setattr(loop, "train_step", poisoned_step)
    code = _train([*TINY, "--kimg", "0.032", "--snapshot-kimg", "0.016"], tmp_path)
    assert code != 0
    err = capsys.readouterr().err.replace("\n", "")
    assert "loss_d became nan at step 2" in err and "snapshot-000000.016.pt" in err
    run = _only_run(tmp_path)
    (snap_path,) = RunDir(run).snapshots()
    snap = load_snapshot(snap_path)
    assert snap["images_seen"] == 16
    assert all(
        torch.isfinite(t).all() for part in ("G", "D", "G_ema") for t in snap[part].values() if t.is_floating_point()
    )
    assert [s["images_seen"] for s in _stats(run)] == [8, 16]  # no stats line for the broken tick


def test_dry_run_prints_the_authors_celeba64_configuration(tmp_path, capsys):
    # Resolution comes from the dataset's registry entry: no image is read, so an empty root is enough.
    assert (
        main(["train", "ladagan", "--data", "celeba64", "--data-root", str(tmp_path), "--dry-run", "--device", "cpu"])
        == 0
    )
    options = json.loads(capsys.readouterr().out)
    assert options["preset"] == "celeba64" and options["resolution"] == 64
    assert options["preset_source"].startswith("authors' config")
    assert options["batch_size"] == 128 and options["r1_gamma"] == 1e-4 and options["ema_decay"] == 0.999
    assert (
        options["lr_g"] == options["lr_d"] == 2e-4 and options["betas"] == [0.5, 0.99] and options["adam_eps"] == 1e-7
    )
    assert options["preset_config"]["generator"]["dims"] == [1024, 256, 64]
    assert options["preset_config"]["discriminator"]["enc_dims"] == [64, 128, 256]
    assert options["augment"] == "color,translation" and options["amp"] == "off"
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kimg", "0"], "--kimg must be a positive number"),
        (["--amp", "fp8"], "--amp 'fp8' is unknown"),
        (["--preset", "celeba64"], "preset 'celeba64' is for 64 px but the data is 32 px"),
        (["--batch", "20000"], "larger than dataset 'fashion10k'"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, args, message):
    assert _train(["ladagan", "--device", "cpu", *args], tmp_path / "out") == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_resume_drops_stats_lines_after_the_snapshot_and_a_cut_last_line(tmp_path):
    lines = [json.dumps({"images_seen": n, "loss_d": 0.5}) for n in (8, 16, 24)]
    (tmp_path / "stats.jsonl").write_text("\n".join(lines) + '\n{"images_seen": 3')  # killed mid-write
    RunDir(tmp_path).truncate_stats(16)
    assert [json.loads(ln)["images_seen"] for ln in (tmp_path / "stats.jsonl").read_text().splitlines()] == [8, 16]


def test_wall_clock_budget_stops_with_a_snapshot_and_a_finished_run_stays_finished(tmp_path, capsys):
    # 0.001 min = 60 ms: the clock runs out during the first iteration, far before 1 kimg.
    assert _train([*TINY, "--kimg", "1", "--minutes", "0.001"], tmp_path) == 0
    run = _only_run(tmp_path)
    snap = load_snapshot(RunDir(run).snapshots()[-1])
    assert snap["images_seen"] == 8 and snap["wall_seconds"] >= 0.06
    assert "stopped (minutes) at 8 images" in (run / "log.txt").read_text()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0  # the budget is spent: nothing more is trained
    assert "already done (minutes)" in capsys.readouterr().out.replace("\n", "")
    assert load_snapshot(RunDir(run).snapshots()[-1])["images_seen"] == 8
