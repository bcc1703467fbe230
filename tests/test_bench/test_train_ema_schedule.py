"""G_ema's decay schedule: the reference's fixed per-step decay and the half-life/ramp-up option."""

from __future__ import annotations

import json
import math

import pytest
import torch
from threads import one_torch_thread
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from bench.cli import main
from bench.core.rundir import RunDir
from bench.train.ema import EmaSchedule, make_ema, set_ema_decay
from bench.train.state import load_snapshot


def test_fixed_decay_ignores_images_seen():
    schedule = EmaSchedule(decay_per_step=0.999, batch_size=32)
    assert {schedule.decay(n) for n in (0, 32, 10**6)} == {0.999}


def test_halflife_without_rampup_halves_an_old_weight_after_halflife_images():
    # 2 kimg at batch 50 is 40 steps; after them the initial weight's share must be exactly 1/2.
    schedule = EmaSchedule(decay_per_step=0.999, halflife_kimg=2.0, batch_size=50)
    share = 1.0
    for step in range(40):
        share *= schedule.decay(step * 50)
    assert math.isclose(share, 0.5, rel_tol=1e-12)


def test_rampup_caps_the_halflife_at_a_fraction_of_images_seen():
    schedule = EmaSchedule(decay_per_step=0.999, halflife_kimg=10.0, rampup_ratio=0.05, batch_size=32)
    assert schedule.decay(0) == 0.0  # nothing seen yet: G_ema becomes G
    # 3,200 images seen: half-life min(10,000, 160) = 160 images = 5 steps of 32, so beta**5 = 1/2.
    assert math.isclose(schedule.decay(3200) ** 5, 0.5, rel_tol=1e-12)
    # Past 200 kimg the ramp no longer binds: 10 kimg = 312.5 steps.
    assert math.isclose(schedule.decay(400_000) ** 312.5, 0.5, rel_tol=1e-12)


def test_describe_names_the_schedule():
    assert EmaSchedule(0.999).describe() == "0.999 per step"
    assert EmaSchedule(0.999, 10.0, 0.05, 32).describe() == "half-life 10 kimg, ramp-up 0.05 x images seen"


def _tiny_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_fixed_decay_update_is_bitwise_torchs_ema():
    # The schedulable update must not change the reference path: compare with torch's own EMA fn.
    G = _tiny_model(0)
    ours = make_ema(G, 0.999)
    theirs = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    theirs.n_averaged.fill_(1)
    for seed in range(1, 4):
        with torch.no_grad():
            for p in G.parameters():
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)))
        ours.update_parameters(G)
        theirs.update_parameters(G)
    for a, b in zip(ours.module.state_dict().values(), theirs.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_set_decay_applies_to_the_next_update():
    G = _tiny_model(0)
    ema = make_ema(G, 0.999)
    start = ema.module[0].weight.clone()
    with torch.no_grad():
        G[0].weight.add_(1.0)
    set_ema_decay(ema, 0.25)
    ema.update_parameters(G)
    expected = 0.25 * start + 0.75 * G[0].weight
    assert torch.allclose(ema.module[0].weight, expected, atol=1e-7)
    set_ema_decay(ema, 0.0)
    ema.update_parameters(G)
    assert torch.equal(ema.module[0].weight, G[0].weight)


TINY = [
    "ladagan",
    "--preset",
    "tiny",
    "--batch",
    "8",
    "--tick-kimg",
    "0.008",
    "--device",
    "cpu",
    "--seed",
    "5",
    "--deterministic",
]


def _final(out) -> dict:
    """The last snapshot of the single run under `out`."""
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return load_snapshot(RunDir(run).snapshots()[-1])


def test_training_applies_the_halflife_schedule_at_each_step(tmp_path):
    # Half-life 4 images, ramp-up 1.0 x images seen, batch 8: step 1 starts at 0 images (decay 0:
    # G_ema becomes G); step 2 starts at 8 images, half-life min(4, 8) = 4, so decay 0.5**(8/4) = 0.25.
    schedule = ["--ema-halflife-kimg", "0.004", "--ema-rampup", "1.0"]
    with one_torch_thread():
        assert main(["train", *TINY, *schedule, "--kimg", "0.008", "--out", str(tmp_path / "one")]) == 0
        assert main(["train", *TINY, *schedule, "--kimg", "0.016", "--out", str(tmp_path / "two")]) == 0
    one, two = _final(tmp_path / "one"), _final(tmp_path / "two")
    for name, weight in one["G"].items():
        assert torch.equal(one["G_ema"][name], weight)
        expected = 0.25 * weight + 0.75 * two["G"][name]
        assert torch.allclose(two["G_ema"][name], expected, rtol=1e-6, atol=1e-7), name
    assert json.loads((next((tmp_path / "two").iterdir()) / "options.json").read_text())["ema_rampup"] == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ema-rampup", "0.05"], "--ema-rampup ramps up a half-life: pass --ema-halflife-kimg too"),
        (["--ema-halflife-kimg", "-1"], "--ema-halflife-kimg must be a positive number"),
        (["--ema-halflife-kimg", "10", "--ema-rampup", "nan"], "--ema-rampup must be a positive number"),
    ],
)
def test_bad_schedules_are_refused_before_anything_is_written(tmp_path, capsys, args, message):
    assert main(["train", "ladagan", "--device", "cpu", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "out").exists()
