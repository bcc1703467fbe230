"""The option table (bench.core.options): one definition per option, checked when the options object is built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from clicheck import one_error_line

from bench.cli import main
from bench.commands.evaluate import EvalOptions
from bench.commands.profile import ProfileOptions
from bench.core.errors import UserError
from bench.core.options import DEVICE, SEED, Flag, check_fields, flag_fields, one_of, option
from bench.train.options import TrainOptions

TINY = ["ladagan", "--preset", "tiny", "--device", "cpu"]


def test_shared_options_are_one_definition_in_every_command() -> None:
    def flag(cls: type, decl: str) -> Flag:
        return next(f.metadata["flag"] for f in flag_fields(cls) if f.metadata["flag"].decl == decl)

    for cls in (TrainOptions, EvalOptions, ProfileOptions):
        assert flag(cls, "--device") is DEVICE  # borrowed, not re-spelled
    assert flag(TrainOptions, "--seed") is SEED


def test_checks_run_when_the_object_is_built() -> None:
    with pytest.raises(UserError, match=r"^--repeats must be a positive whole number \(got 0\)$"):
        ProfileOptions(repeats=0)
    with pytest.raises(UserError, match=r"^--warmup must be >= 0 \(got -1\)$"):
        ProfileOptions(warmup=-1)
    with pytest.raises(UserError, match="--amp 'fp8' is unknown; use one of off, bf16, fp16"):
        ProfileOptions(amp="fp8")
    with pytest.raises(UserError, match="--ci-groups 1 cannot give an interval"):
        EvalOptions(run="x", ci_groups=1)
    with pytest.raises(UserError, match="--sample-seeds 'a' must be comma-separated integers"):
        EvalOptions(run="x", sample_seeds="a")
    assert ProfileOptions(threads=1).threads == 1  # None and good values pass


def test_a_new_options_class_gets_the_checks_of_its_declarations() -> None:
    @dataclasses.dataclass(frozen=True)
    class Sample:
        seed: int = option(0, SEED)
        mode: str = option("a", Flag("--mode", "A mode.", str, one_of("a", "b")))

        def __post_init__(self) -> None:
            check_fields(self)

    with pytest.raises(UserError, match=r"^--seed must be >= 0 \(got -3\)$"):
        Sample(seed=-3)
    with pytest.raises(UserError, match="--mode 'c' is unknown; use one of a, b"):
        Sample(mode="c")


def test_negative_seed_is_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    assert main(["train", *TINY, "--seed", "-1", "--kimg", "0.01", "--out", str(tmp_path / "runs")]) == 2
    assert one_error_line(capsys) == "error: --seed must be >= 0 (got -1)"
    assert not (tmp_path / "runs").exists()


def test_stored_options_are_read_as_trained_not_checked_again() -> None:
    stored = {"model": "ladagan", "preset": "tiny32", "data": "fashion10k", "seed": -1}
    options = TrainOptions.from_json(stored)
    assert options.seed == -1  # a run of an older version that allowed it still reads
    with pytest.raises(UserError, match="--seed must be >= 0"):
        options.replace(seed=-2)  # a changed copy is new options: checked


def test_ci_groups_beyond_the_images_are_recorded_as_used() -> None:
    from types import SimpleNamespace

    import numpy as np
    import torch

    import ladagan
    from bench.metrics.evaluate import evaluate_generator
    from bench.metrics.features import load_feature_extractor
    from bench.metrics.names import MetricName

    torch.manual_seed(0)
    generator = ladagan.build(ladagan.PRESETS["tiny32"])[0].eval()
    images = np.random.default_rng(1).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    data = SimpleNamespace(name="ci", resolution=32, count=12, content_hash="ci-h", images=images, meta={})
    (line,) = evaluate_generator(
        generator,
        data,
        [MetricName("fid", 12, "train", "random-conv")],
        load_feature_extractor("random-conv"),
        seeds=[0],
        show_progress=False,
        ci_groups=1_000_000_000,
    )
    assert line.ci_groups == 12 and line.ci95 is not None  # one group per image, as the jackknife used
