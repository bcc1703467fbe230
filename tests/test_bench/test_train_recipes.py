"""The authors' per-dataset recipes through `ladabench train`: the FFHQ-128 dry run, bCR runs, EMA starts, FLOPs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import ladagan
from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.state import load_snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def _run(args: list[str], out: Path) -> Path:
    """Train in this process into `out` and return the single run folder."""
    assert main(["train", *args, "--out", str(out)]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _stats(run: Path) -> list[dict]:
    """stats.jsonl of a run, one dict per tick."""
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def test_dry_run_prints_the_authors_ffhq128_configuration(tmp_path, capsys):
    assert (
        main(["train", "ladagan", "--data", "ffhq128", "--data-root", str(tmp_path), "--dry-run", "--device", "cpu"])
        == 0
    )
    o = json.loads(capsys.readouterr().out)
    assert o["preset"] == "ffhq128" and o["resolution"] == 128 and "ffhq_128/config.json" in o["preset_source"]
    assert (o["batch_size"], o["augment"], o["bcr"], o["cr_weight"]) == (64, "color,translation,cutout", True, 0.1)
    assert (o["r1_gamma"], o["ema_decay"], o["ema_start"], o["lr_g"], o["lr_d"], o["betas"]) == (
        1e-4,
        0.999,
        "fresh",
        2e-4,
        2e-4,
        [0.5, 0.99],
    )
    g, d = o["preset_config"]["generator"], o["preset_config"]["discriminator"]
    assert (g["dims"], g["heads"], g["mlp_dims"], g["dec_dims"]) == ([1024, 512, 256], [4, 4, 4], [512] * 3, [128, 64])
    assert (d["enc_dims"], d["out_dims"], d["heads"], d["mlp_dim"]) == ([32, 64, 128, 256], [512, 1024], 4, 512)
    assert o["preset_config"]["training"]["bcr"] is True
    assert not any(tmp_path.iterdir())


def test_flags_override_the_preset_recipe(tmp_path, capsys):
    args = ["train", "ladagan", "--data", "ffhq128", "--data-root", str(tmp_path), "--dry-run", "--device", "cpu"]
    assert main([*args, "--no-bcr", "--cr-weight", "0.5", "--augment", "color", "--ema-start", "copy"]) == 0
    o = json.loads(capsys.readouterr().out)
    assert (o["bcr"], o["cr_weight"], o["augment"], o["ema_start"]) == (False, 0.5, "color", "copy")
    assert o["preset_config"]["training"]["bcr"] is False


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--augment", "color,cutmix"], "--augment: unknown DiffAugment policy ['cutmix']"),
        (["--cr-weight", "-1"], "--cr-weight must be >= 0"),
        (["--ema-start", "clone"], "--ema-start 'clone' is unknown; use one of fresh, copy"),
    ],
)
def test_bad_recipe_flags_are_one_line_errors(tmp_path, capsys, flag, message):
    assert main(["train", *TINY, *flag, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_bcr_cutout_run_trains_logs_the_consistency_loss_and_resumes_bitwise(tmp_path, capsys):
    args = [
        *TINY,
        "--bcr",
        "--augment",
        "color,translation,cutout",
        "--kimg",
        "0.032",
        "--seed",
        "2",
        "--deterministic",
    ]
    full = _run(args, tmp_path / "full")
    split = _run([*args, "--stop-kimg", "0.016"], tmp_path / "split")
    assert main(["train", "--resume", str(split)]) == 0
    options = json.loads((full / "options.json").read_text())
    assert options["bcr"] is True and options["augment"] == "color,translation,cutout"
    stats = _stats(full)
    assert len(stats) == 4 and all(s["cr"] > 0 for s in stats)
    assert [(s["loss_d"], s["r1"], s["cr"]) for s in stats] == [(s["loss_d"], s["r1"], s["cr"]) for s in _stats(split)]
    a, b = load_snapshot(RunDir(full).snapshots()[-1]), load_snapshot(RunDir(split).snapshots()[-1])
    for key in ("G_ema", "G", "D"):
        assert all(torch.equal(t, b[key][name]) for name, t in a[key].items()), key


def test_without_bcr_the_consistency_loss_is_logged_as_zero(tmp_path):
    run = _run([*TINY, "--kimg", "0.008"], tmp_path)
    assert _stats(run)[-1]["cr"] == 0.0


def _seed_stream(seed: int, stream: int) -> int:
    """The 63-bit seed of one derived stream (numpy SeedSequence over (seed, stream), top bit dropped)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@pytest.mark.parametrize("ema_start", ["fresh", "copy"])
def test_training_starts_g_ema_as_asked(tmp_path, ema_start):
    # With decay 1 G_ema never moves, so the final snapshot holds its start.
    run = _run([*TINY, "--kimg", "0.008", "--seed", "5", "--ema-decay", "1", "--ema-start", ema_start], tmp_path)
    snap = load_snapshot(RunDir(run).snapshots()[-1])
    preset = ladagan.PRESETS["tiny32"]
    torch.manual_seed(5 if ema_start == "copy" else _seed_stream(5, 4))
    expected = ladagan.build(preset)[0].state_dict()  # G as first built (copy), or the EMA stream's draw (fresh)
    assert all(torch.equal(snap["G_ema"][k], v) for k, v in expected.items())
    torch.manual_seed(5)
    initial_g = ladagan.build(preset)[0].state_dict()
    same_as_g = torch.equal(snap["G_ema"]["init.weight"], initial_g["init.weight"])
    assert same_as_g == (ema_start == "copy")


def test_training_flops_include_the_bcr_pass():
    from bench.metrics.flops import counted_flops
    from bench.metrics.profile import FLOP_COUNT_BATCH, training_flops_per_image
    from bench.registry import get_model

    spec, preset = get_model("ladagan"), ladagan.PRESETS["tiny32"]
    with_bcr = replace(preset, training=replace(preset.training, bcr=True))
    extra = training_flops_per_image(spec, with_bcr) - training_flops_per_image(spec, preset)
    # The extra pass: D forward and backward (weights only) on the 2B augmented images.
    _, D = ladagan.build(preset)
    x = torch.rand(2 * FLOP_COUNT_BATCH, 3, 32, 32)
    expected, _ = counted_flops(lambda: D(x).sum().backward())
    assert extra == expected // FLOP_COUNT_BATCH and extra > 0


def test_runs_from_before_the_recipe_options_resume_as_they_were_trained(tmp_path, capsys):
    # An options.json written before bCR and the EMA start existed: the run trained without bCR and
    # started G_ema as a copy of G, so it continues that way and no option "differs".
    run = _run([*TINY, "--kimg", "0.016", "--stop-kimg", "0.008", "--ema-start", "copy"], tmp_path)
    options = json.loads((run / "options.json").read_text())
    for key in ("bcr", "cr_weight", "ema_start"):
        del options[key], options["preset_config"]["training"][key]
    del options["r1_interval"]  # a run option, not part of the preset's recipe
    (run / "options.json").write_text(json.dumps(options))
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    resumed = json.loads((run / "options.json").read_text())
    assert (resumed["bcr"], resumed["ema_start"], resumed["r1_interval"]) == (False, "copy", 1)
    assert [s["images_seen"] for s in _stats(run)] == [8, 16]
