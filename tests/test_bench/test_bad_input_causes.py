"""The last bad-input causes of issue 26, each built as a user would make it: one line naming the fix, nothing written."""

from __future__ import annotations

import pytest
from clicheck import fingerprint, one_error_line

from bench.cli import main
from bench.registry import get_model
from bench.train.state import save_snapshot

RC = ["--features", "random-conv", "--metrics", "fid10_train"]  # a fast test network; these fail before it matters

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


def _conv_snapshot(path) -> None:
    """A well-formed snapshot of the conv baseline (another model than the run's LadaGAN), as training writes one."""
    spec = get_model("conv")
    generator, discriminator = spec.build_models(spec.presets["tiny32"])
    state = {"G": generator.state_dict(), "G_ema": generator.state_dict(), "D": discriminator.state_dict()}
    save_snapshot(path, {**state, "options": {"model": "conv", "preset": "tiny32"}})


def test_eval_of_a_snapshot_of_another_model_is_one_line_before_anything_runs(run_copy, capsys):
    _conv_snapshot(run_copy / "snapshot-000000.024.pt")  # the newest: eval picks it
    before = fingerprint(run_copy, skip=())
    assert main(["eval", str(run_copy), *RC]) == 2
    line = one_error_line(capsys)
    assert "snapshot-000000.024.pt does not fit ladagan preset tiny32" in line
    assert "trained as conv preset tiny32" in line and "size mismatch" not in line
    assert fingerprint(run_copy, skip=()) == before  # no metric line


@pytest.mark.parametrize("named", [False, True])
def test_eval_of_an_empty_snapshot_names_the_newest_good_one(run_copy, capsys, named):
    (run_copy / "snapshot-000000.024.pt").write_bytes(b"")  # a disk that filled up mid-save
    before = fingerprint(run_copy, skip=())
    assert main(["eval", str(run_copy), *RC, *(["--snapshot", "0.024"] if named else [])]) == 2
    line = one_error_line(capsys)
    assert "snapshot-000000.024.pt is truncated or unreadable" in line
    assert line.endswith(f"pass --snapshot {run_copy / 'snapshot-000000.016.pt'}")
    assert fingerprint(run_copy, skip=()) == before
