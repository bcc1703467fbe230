"""`ladabench train --executor slurm`: one SLURM job whose tasks form one torch.distributed group (gloo on CPU)."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.core.rundir import RunDir


@pytest.mark.slow
def test_train_on_slurm_with_two_gloo_tasks_writes_one_run(slurm, tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["train", "conv", "--preset", "tiny", "--kimg", "0.032", "--batch", "16", "--device", "cpu"]
    assert main([*args, "--out", str(out), "--executor", "slurm", "--procs", "2", "--wait"]) == 0
    printed = capsys.readouterr().out
    assert "1 node(s) x 2 task(s), one torch.distributed group" in printed
    (run,) = RunDir.children(out)  # rank 0 alone writes the run
    assert f"run: {run.path}" in printed.replace("\n", "")
    assert run.images_seen() == 32 and run.snapshots()
    assert "device cpu, 2 process(es)" in (run.path / "log.txt").read_text()
    where = run.read_env()["where"]
    assert (where["executor"], where["world_size"], where["nodes"]) == ("slurm", 2, 1)
    assert run.read_options()["world_size"] == 2


def test_train_with_an_unknown_executor_is_one_line(tmp_path, capsys):
    assert main(["train", "conv", "--out", str(tmp_path / "r"), "--executor", "cloud"]) == 2
    assert capsys.readouterr().err.strip() == "error: --executor 'cloud' is unknown; pass local or slurm"
    assert not (tmp_path / "r").exists()
