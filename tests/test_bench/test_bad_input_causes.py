"""The last bad-input causes of issue 26, each built as a user would make it: one line naming the fix, no write."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from clicheck import fingerprint, one_error_line, start_cli, wait_until
from reportfakes import make_run

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


def _against_inputs(tmp_path: Path) -> dict[str, Path]:
    """Bad --against files a user could pass: missing, empty, garbage, another kind of CSV, a folder, markup."""
    made = {
        "empty": tmp_path / "empty.csv",
        "garbage": tmp_path / "garbage.csv",
        "other-csv": tmp_path / "other.csv",
        "markup": tmp_path / "x[/y].csv",
    }
    made["empty"].write_text("")
    made["garbage"].write_bytes(b"\x00\xff\xfe not,a\n\x00")
    made["other-csv"].write_text("kimg,fid\n1,40.0\n")
    made["markup"].parent.mkdir()  # the folder `x[`: the path reads as rich markup `[/y]`
    made["markup"].write_text("")
    (tmp_path / "a-folder.csv").mkdir()
    return {**made, "missing": tmp_path / "none.csv", "folder": tmp_path / "a-folder.csv"}


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "other-csv", "folder", "markup"])
def test_compare_refuses_a_bad_against_before_writing_any_plot(tmp_path, capsys, case):
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {2: 45.0, 4: 40.0}, 20.0)
    make_run(root, 1, "conv", 0, {2: 55.0, 4: 50.0}, 30.0)
    against = _against_inputs(tmp_path)[case]
    out = tmp_path / "rep" / "cmp.md"
    assert main(["compare", str(root), "--metric", "fid,macs", "--out", str(out), "--against", str(against)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: --against {against} ")  # brackets in the path printed as typed
    assert not out.parent.exists()  # no plot, no CSV, no counts file


def test_a_folder_where_a_csv_is_expected_is_called_a_folder(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {4: 40.0}, 20.0)
    folder = tmp_path / "seeds.csv"
    folder.mkdir()
    out = tmp_path / "rep" / "cmp.md"
    assert main(["compare", str(root), "--metric", "fid,macs", "--out", str(out), "--spread-from", str(folder)]) == 2
    assert one_error_line(capsys).startswith(f"error: --spread-from {folder} is a folder, not a file; pass the .csv")
    assert not out.parent.exists()


def test_a_file_that_is_not_a_tf_checkpoint_is_not_called_missing(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG")
    out = tmp_path / "imported"
    assert main(["import", "authors", str(photo), "--out", str(out)]) == 2
    assert one_error_line(capsys).startswith(f"error: {photo} is not a TensorFlow checkpoint (a ckpt-N.index")
    assert not out.exists()


def test_a_folder_resolution_that_is_not_a_number_is_refused(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "ladagan", "--preset", "tiny", "--data", f"folder:{tmp_path}@abc", "--out", str(out)]) == 2
    assert one_error_line(capsys) == (
        f"error: resolution 'abc' in 'folder:{tmp_path}@abc' is not a whole number; "
        f"use folder:{tmp_path}@64 (8..2048 px)"
    )
    assert not out.exists()


def test_a_folder_whose_name_holds_an_at_sign_is_still_a_folder(tmp_path):
    from bench.data.folders import parse_folder_spec

    folder = tmp_path / "photos@home"
    folder.mkdir()
    assert parse_folder_spec(str(folder)) == (folder, 64)
    assert parse_folder_spec(f"{folder}@32") == (folder, 32)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--attention-scaling", "--roofline"],
            "error: --roofline has no effect with --attention-scaling (it times single attention layers); drop it",
        ),
        (
            ["ladagan", "--attention-scaling", "--amp", "bf16"],
            "error: MODEL, --amp have no effect with --attention-scaling (it times single attention layers); drop them",
        ),
        (
            ["ladagan", "--preset", "tiny", "--no-speed", "--tokens", "64"],
            "error: --tokens has no effect without --attention-scaling; drop it",
        ),
    ],
)
def test_profile_refuses_an_option_its_mode_would_ignore(tmp_path, capsys, args, message):
    out = tmp_path / "p.json"
    assert main(["profile", *args, "--json", str(out)]) == 2
    assert one_error_line(capsys) == message
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_during_inception_features_on_cpu_ends_within_about_a_second(run_copy, tmp_path):
    io = tmp_path / "io"
    args = ["eval", str(run_copy), "--metrics", "fid200_train", "--sample-seeds", "0", "--device", "cpu"]
    proc = start_cli(args, io, LADABENCH_CACHE=str(tmp_path / "cache"))  # real Inception, features not cached
    wait_until(lambda: "reference features fashion10k (200)" in (io / "stderr.txt").read_text(), proc)
    time.sleep(1.5)  # inside the batches (a batch of 50 used to run as one 10-20 s forward pass)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert time.monotonic() - sent < 2.5  # ~0.5 s of forward pass plus unwinding, on 2 shared cores


@pytest.mark.parametrize("below", ["", "runs"])
def test_an_out_that_is_a_file_or_under_one_is_named_not_file_exists(tmp_path, capsys, below):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    out = a_file / below if below else a_file
    argv = ["train", "ladagan", "--preset", "tiny", "--kimg", "0.008", "--batch", "8", "--device", "cpu"]
    assert main([*argv, "--out", str(out)]) == 2
    assert one_error_line(capsys) == f"error: --out: {a_file} is not a folder; pass a path in a writable folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] and a_file.read_text() == "x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--seed", "abc"],
            "error: Invalid value for '--seed': Input should be a valid integer, unable to parse string as an "
            "integer; see `ladabench train --help`",
        ),
        (["eval", "--bogus"], "error: No such option: --bogus; see `ladabench eval --help`"),
        (["eval"], "error: Missing argument 'run'; see `ladabench eval --help`"),
        (
            ["train", "--data", "", "--dry-run"],
            "error: --data is empty; pass a value, or leave --data out for its default",
        ),
        (["compare", "--against="], "error: --against is empty; pass a value, or leave --against out for its default"),
        (
            ["train", "ladagan", "--batch", "1" + "0" * 20, "--dry-run"],
            f"error: --batch {10**20} is out of range; pass a whole number below 2**63",
        ),
    ],
)
def test_a_usage_mistake_is_one_line_not_a_box(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert one_error_line(capsys) == message
    assert list(tmp_path.iterdir()) == []


def test_a_resume_file_outside_any_run_is_named(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert main(["train", "--resume", str(a_file)]) == 2
    assert one_error_line(capsys) == (
        f"error: --resume {a_file} is a file outside any run (no options.json beside it); "
        "pass a run folder or one of its snapshot-*.pt files"
    )


def test_profile_no_speed_refuses_the_timing_options_and_checks_amp_first(tmp_path, capsys):
    base = ["profile", "ladagan", "--preset", "tiny"]
    assert main([*base, "--no-speed", "--amp", "bf16", "--repeats", "3"]) == 2
    assert one_error_line(capsys) == (
        "error: --amp, --repeats have no effect with --no-speed (it counts operations, it times nothing); drop them"
    )
    assert main([*base, "--amp", "x[/y]"]) == 2  # before any model is built; the markup printed as typed
    assert one_error_line(capsys) == "error: --amp 'x[/y]' is unknown; use one of off, bf16, fp16"


def test_import_refuses_an_out_in_a_file_before_reading_the_checkpoint(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    ckpt = Path(__file__).resolve().parents[1] / "fixtures" / "tf_ladagan" / "micro64"
    assert main(["import", "authors", str(ckpt), "--out", str(a_file / "runs")]) == 2
    assert one_error_line(capsys) == f"error: --out: {a_file} is not a folder; pass a path in a writable folder"


def test_the_done_line_of_a_run_whose_last_tick_fp16_skipped_says_why(tmp_path):
    from bench.core.records import StatsLine
    from bench.train.loop import TrainResult
    from bench.train.session import summary

    stats = StatsLine(step=2, images_seen=16, kimg=0.016, img_per_sec=0.2, amp_skipped_steps=2)  # losses None
    line = summary(TrainResult(tmp_path, 16, 66.8, "budget", None, stats))
    assert "loss D n/a G n/a (fp16 loss scaling skipped all 2 steps of the last tick: no finite loss to show; " in line
    assert "on CPU use --amp bf16 or off), 0.2 img/s" in line
    finite = StatsLine(step=2, images_seen=16, kimg=0.016, img_per_sec=9.0, loss_d=1.25, loss_g=0.5)
    assert "loss D 1.250 G 0.500, 9.0 img/s;" in summary(TrainResult(tmp_path, 16, 1.0, "budget", None, finite))


def test_doctor_prints_paths_that_read_as_rich_closing_tags(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "c[" / "x]"  # the path .../c[/x]: to rich, a closing tag that matches nothing
    cache.mkdir(parents=True)
    monkeypatch.setenv("LADABENCH_CACHE", str(cache))
    monkeypatch.setenv("LADABENCH_INCEPTION", str(tmp_path / "w[" / "x].pt"))
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["doctor", "--data-root", str(tmp_path / "d[" / "x]")]) == 0
    out = capsys.readouterr().out
    assert f"{cache} (writable" in out and "w[/x].pt" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--features", "random-conv", "--inception", "w.pt"],
            "error: --inception has no effect with --features random-conv (only inception reads it); drop it",
        ),
        (
            ["--dinov2", "v.pth"],
            "error: --dinov2 has no effect with --features inception (only dinov2 reads it); drop it",
        ),
    ],
)
def test_feature_weights_no_network_reads_are_refused(stopped_run, capsys, args, message):
    before = fingerprint(stopped_run, skip=())
    assert main(["eval", str(stopped_run), "--metrics", "fid10_train", *args]) == 2
    assert one_error_line(capsys) == message
    assert fingerprint(stopped_run, skip=()) == before


@pytest.mark.parametrize("command", [["train", "ladagan", "--dry-run"], ["data", "info", "fashion10k"]])
@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_data_root_that_is_not_a_folder_is_refused_even_for_the_embedded_data(tmp_path, capsys, command, kind):
    root = tmp_path / "datasets"
    if kind == "file":
        root.write_text("x")
    what = "is a file, not a folder" if kind == "file" else "does not exist"
    assert main([*command, "--data-root", str(root)]) == 2
    assert one_error_line(capsys) == f"error: --data-root {root} {what}; pass the folder holding the datasets"


def test_data_info_refuses_a_folder_for_its_grid_png_before_reading_the_data(tmp_path, capsys):
    folder = tmp_path / "grid.png"
    folder.mkdir()
    assert main(["data", "info", "fashion10k", "--grid", str(folder)]) == 2
    assert one_error_line(capsys) == f"error: --grid {folder} is a folder; pass a file path"
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_compare_names_a_profile_file_that_is_not_one(tmp_path, capsys, kind):
    root = tmp_path / "runs"
    make_run(root, 0, "ladagan", 0, {4: 40.0}, 20.0)
    given = tmp_path / "p.json"
    if kind == "folder":
        given.mkdir()
    out = tmp_path / "rep" / "cmp.md"
    assert main(["compare", str(root), "--metric", "fid,macs", "--profile", str(given), "--out", str(out)]) == 2
    what = "is a folder, not a file" if kind == "folder" else "does not exist"
    assert one_error_line(capsys) == (
        f"error: --profile {given} {what}; pass a JSON file written by `ladabench profile MODEL --json FILE`"
    )
    assert not out.parent.exists()


def test_a_grid_refuses_a_missing_spread_source_before_any_cell_trains(tmp_path, capsys):
    runs = tmp_path / "grid"
    argv = ["bench", "quick", "--kimg", "0.008", "--num-gen", "10", "--no-profile", "--features", "random-conv"]
    argv += ["--runs-dir", str(runs), "--out", str(tmp_path / "q.md"), "--spread-from", str(tmp_path / "seeds.csv")]
    assert main(argv) == 2
    assert one_error_line(capsys).startswith(f"error: --spread-from {tmp_path / 'seeds.csv'} does not exist; pass")
    assert list(tmp_path.iterdir()) == []  # no runs folder, no report


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            ["--partition", "gpu"],
            "error: --partition has no effect with --executor local (SLURM options); pass --executor slurm or drop it",
        ),
        (
            ["--executor", "debug", "--mem-gb", "8", "--wait"],
            "error: --mem-gb, --wait have no effect with --executor debug (SLURM options); "
            "pass --executor slurm or drop them",
        ),
        (["--executor", "slurm", "--mem-gb", "nan"], "error: --mem-gb nan must be a positive number of GB"),
    ],
)
def test_a_grid_refuses_slurm_options_it_would_ignore(tmp_path, capsys, extra, line):
    argv = ["bench", "quick", "--kimg", "0.008", "--num-gen", "10", "--no-profile", "--features", "random-conv"]
    assert main([*argv, "--runs-dir", str(tmp_path / "grid"), "--out", str(tmp_path / "q.md"), *extra]) == 2
    assert one_error_line(capsys) == line
    assert list(tmp_path.iterdir()) == []


def test_a_grid_names_an_unknown_feature_network_before_any_cell_trains(tmp_path, capsys):
    argv = ["bench", "quick", "--kimg", "0.008", "--num-gen", "10", "--no-profile", "--features", "incepton"]
    assert main([*argv, "--runs-dir", str(tmp_path / "grid"), "--out", str(tmp_path / "q.md")]) == 2
    assert (
        one_error_line(capsys) == "error: --features 'incepton' is unknown; pass one of inception, dinov2, random-conv"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_grid_names_a_negative_training_seed_by_its_own_flag(tmp_path, capsys):
    # --seeds, not the --seed of `train` that each cell would otherwise name (negative sample seeds are valid).
    argv = ["bench", "quick", "--kimg", "0.008", "--num-gen", "10", "--no-profile", "--features", "random-conv"]
    assert main([*argv, "--runs-dir", str(tmp_path / "grid"), "--out", str(tmp_path / "q.md"), "--seeds", "0,-3"]) == 2
    assert one_error_line(capsys) == "error: --seeds '0,-3' must be integers >= 0, e.g. --seeds 0,1,2"
    assert list(tmp_path.iterdir()) == []


def test_a_cache_root_that_is_a_file_is_named(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "cache"
    a_file.write_text("x")
    monkeypatch.setenv("LADABENCH_CACHE", str(a_file))
    assert main(["data", "info", "fashion10k"]) == 2
    assert one_error_line(capsys) == (
        f"error: cannot create the dataset cache ({a_file} is a file, not a folder); "
        "set $LADABENCH_CACHE to a writable folder"
    )
    assert a_file.read_text() == "x"


def test_train_refuses_slurm_options_for_a_local_run(tmp_path, capsys):
    argv = ["train", "ladagan", "--preset", "tiny", "--kimg", "0.008", "--out", str(tmp_path / "runs")]
    assert main([*argv, "--nodes", "2", "--sbatch", "qos=high"]) == 2
    assert one_error_line(capsys) == (
        "error: --nodes, --sbatch have no effect with --executor local (SLURM options); "
        "pass --executor slurm or drop them"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_checks_what_the_real_run_checks(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    argv = ["train", "ladagan", "--preset", "tiny", "--dry-run"]
    assert main([*argv, "--out", str(a_file / "runs")]) == 2
    assert one_error_line(capsys) == f"error: --out: {a_file} is not a folder; pass a path in a writable folder"
    assert main([*argv, "--out", str(tmp_path / "runs"), "--metrics", "fid10_tran"]) == 2
    assert "'fid10_tran' is unsupported" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
