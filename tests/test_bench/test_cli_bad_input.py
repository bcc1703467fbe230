"""Bad options of eval, profile, data stats and bench: one line naming the input, exit 2, nothing written."""

from __future__ import annotations

import threading

import pytest
from clicheck import fingerprint, one_error_line
from reportfakes import make_run

from bench.cli import main
from bench.core.paths import require_writable_folder

RC = ["--features", "random-conv"]  # a fast test network: these commands fail before it would matter
SCALING = ["profile", "--attention-scaling", "--repeats", "1", "--warmup", "0"]


pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "tpu"], "error: --device 'tpu' is not a device; use cpu, cuda or cuda:N"),
        (["--batch", "0"], "error: --batch must be a positive whole number (got 0)"),
        (["--batch", "-5"], "error: --batch must be a positive whole number (got -5)"),
        (
            ["--ci-groups", "1"],
            "error: --ci-groups 1 cannot give an interval; pass 0 (none) or at least 2 (default 25)",
        ),
    ],
)
def test_bad_eval_options_are_one_line_and_the_run_is_untouched(stopped_run, capsys, args, message):
    before = fingerprint(stopped_run, skip=())
    assert main(["eval", str(stopped_run), "--metrics", "fid10_train", *RC, *args]) == 2
    assert one_error_line(capsys) == message
    assert fingerprint(stopped_run, skip=()) == before  # no metric line, no log line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["profile", "ladagan", "--preset", "tiny", "--device", "tpu"],
            "error: --device 'tpu' is not a device; use cpu, cuda or cuda:N",
        ),
        (
            ["profile", "ladagan", "--preset", "tiny", "--res", "0"],
            "error: --res must be a positive whole number (got 0)",
        ),
        (
            ["profile", "ladagan", "--preset", "tiny", "--batch", "0"],
            "error: --batch must be a positive whole number (got 0)",
        ),
        (
            [*SCALING, "--tokens", "0"],
            "error: --tokens 0 is not a square number >= 1 (tokens form a square map, e.g. 64, 256, 1024)",
        ),
        (
            [*SCALING, "--tokens=-4"],
            "error: --tokens -4 is not a square number >= 1 (tokens form a square map, e.g. 64, 256, 1024)",
        ),
        ([*SCALING, "--tokens", ""], "error: --tokens is empty; pass a value, or leave --tokens out for its default"),
        (
            [*SCALING, "--tokens", "abc"],
            "error: --tokens 'abc' must be comma-separated integers, e.g. --tokens 64,256,1024",
        ),
        ([*SCALING, "--tokens", "4", "--dim", "0"], "error: --dim must be a positive whole number (got 0)"),
        (
            [*SCALING, "--tokens", "4", "--dim", "7"],
            "error: --dim 7 does not split into 4 attention heads; pass a multiple of 4, e.g. 256",
        ),
        (
            ["data", "stats", "fashion10k", *RC, "--batch", "0"],
            "error: --batch must be a positive whole number (got 0)",
        ),
        (
            ["data", "stats", "fashion10k", *RC, "--device", "tpu"],
            "error: --device 'tpu' is not a device; use cpu, cuda or cuda:N",
        ),
    ],
)
def test_bad_profile_and_stats_options_are_one_line(tmp_path, capsys, args, message):
    assert main(args) == 2
    assert one_error_line(capsys) == message


def test_profile_output_paths_are_checked_before_profiling(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    argv = ["profile", "ladagan", "--preset", "tiny", "--no-speed"]
    assert main([*argv, "--json", str(a_file / "p.json")]) == 2
    assert one_error_line(capsys) == f"error: --json: {a_file} is not a folder; pass a path in a writable folder"
    assert main([*argv, "--csv", str(folder)]) == 2
    assert one_error_line(capsys) == f"error: --csv {folder} is a folder; pass a file path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"] and not any(folder.iterdir())


@pytest.mark.parametrize("bad", ["runs-dir", "out"])
def test_a_bench_output_that_cannot_be_written_fails_before_any_training(tmp_path, capsys, bad):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    paths = {"runs-dir": tmp_path / "runs", "out": tmp_path / "rep" / "q.md"}
    paths[bad] = a_file / paths[bad].name
    argv = [
        "bench",
        "quick",
        "--kimg",
        "0.008",
        "--num-gen",
        "10",
        "--no-profile",
        *RC,
        "--runs-dir",
        str(paths["runs-dir"]),
        "--out",
        str(paths["out"]),
    ]
    assert main(argv) == 2
    assert one_error_line(capsys) == f"error: --{bad}: {a_file} is not a folder; pass a path in a writable folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no run, no log, no report folder


def test_compare_checks_the_runs_before_writing_the_counts_file(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {4: 40.0}, 20.0)
    odd = make_run(root, 1, "conv", 0, {4: 50.0}, 30.0, options={"batch_size": 64})  # another protocol
    out = tmp_path / "rep" / "cmp.md"
    assert main(["compare", str(root), "--metric", "fid,macs", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: ") and "batch_size" in line and odd.name in line
    assert not out.parent.exists()  # neither the report nor cmp-counts.json (MACs are counted only after the check)


def test_the_writable_check_holds_when_two_checks_of_one_missing_folder_run_at_once(tmp_path):
    """Two grids starting on one new runs folder check it at the same moment: neither may fail.

    The check once created the missing folders and removed them again, so one process could remove
    the folder the other was probing (a FileNotFoundError through `ladabench bench`). Threads release
    the GIL in every file call, which interleaves the two checks many times over 300 rounds.
    """
    folder = tmp_path / "runs" / "grid"
    errors: list[Exception] = []

    def check() -> None:
        for _ in range(300):
            try:
                require_writable_folder(folder, "--runs-dir")
            except Exception as exc:  # collected: an exception in a thread would not fail the test
                errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list(tmp_path.iterdir()) == []  # the check itself creates nothing
