"""Bad run files on --resume/eval: one line, a non-zero exit, and nothing of the run changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clicheck import TINY, fingerprint, one_error_line

from bench.cli import main
from bench.core.rundir import RunDir
from bench.registry import get_model
from bench.train.state import load_snapshot, save_snapshot

pytestmark = pytest.mark.usefixtures("one_thread")  # one torch thread (see threads.py)


def test_a_snapshot_of_another_model_is_refused_before_anything_is_rewritten(run_copy, capsys):
    good = load_snapshot(run_copy / "snapshot-000000.016.pt")
    spec = get_model("ladagan-dot")  # another architecture: its G has other weight names/shapes
    other_g, _ = spec.build_models(spec.presets["tiny32"])
    save_snapshot(
        run_copy / "snapshot-000001.pt",
        {**good, "G": other_g.state_dict(), "options": {**good["options"], "model": "ladagan-dot"}},
    )
    before = fingerprint(run_copy)
    code = main(["train", "--resume", str(run_copy), "--kimg", "0.064", "--force"])
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith("error: snapshot ") and "snapshot-000001.pt does not fit ladagan preset tiny32" in line
    assert "trained as ladagan-dot" in line
    assert fingerprint(run_copy) == before  # options.json (budget), snapshots, stats: unchanged; no lock, no temp file


def test_a_zero_byte_snapshot_is_set_aside_on_resume_and_named_by_eval(run_copy, capsys):
    empty = run_copy / "snapshot-000001.pt"
    empty.write_bytes(b"")
    assert main(["eval", str(run_copy)]) == 2
    line = one_error_line(capsys)
    good = run_copy / "snapshot-000000.016.pt"  # the newest snapshot that loads: eval names it for --snapshot
    assert line == f"error: snapshot {empty} is truncated or unreadable (EOFError); pass --snapshot {good}"
    assert empty.exists()  # eval only reads: a training process may own the run

    assert main(["train", "--resume", str(run_copy)]) == 0
    assert not empty.exists() and (run_copy / "snapshot-000001.pt.corrupt").stat().st_size == 0
    assert "resumed from snapshot-000000.016.pt at 16 images" in (run_copy / "log.txt").read_text()
    assert load_snapshot(RunDir(run_copy).snapshots()[-1])["images_seen"] == 32


@pytest.mark.parametrize("content", [b"garbage\n", b'{"pid": "x"}', b"[1, 2]", b"\xff\xfe"])
def test_an_unreadable_lock_nobody_holds_is_taken_over_with_a_warning_naming_it(run_copy, capsys, content):
    lock = run_copy / "train.lock"
    lock.write_bytes(content)
    assert main(["train", "--resume", str(run_copy)]) == 0
    err = capsys.readouterr().err
    assert f"warning: lock file {lock} was unreadable" in err.replace("\n", "") and "Traceback" not in err
    assert "treated as stale and taken over" in (run_copy / "log.txt").read_text()
    assert not lock.exists()


@pytest.mark.parametrize(("flag", "value"), [("--kimg", "0.0004"), ("--stop-kimg", "0.0001")])
def test_a_budget_below_one_image_is_refused_and_no_run_folder_is_made(tmp_path, capsys, flag, value):
    given = {"--kimg": "0.016", flag: value}
    args = ["train", *TINY, *[x for pair in given.items() for x in pair], "--out", str(tmp_path / "runs")]
    assert main(args) == 2
    assert (
        one_error_line(capsys)
        == f"error: {flag} {value} is less than one image (budgets count images: kimg x 1000); pass at least 0.001"
    )
    assert not (tmp_path / "runs").exists()


def test_a_path_with_rich_markup_is_printed_verbatim_in_progress_summary_and_errors(tmp_path, capsys):
    out = tmp_path / "runs[/x]" / "[bold]b[/bold]"  # rich would read both as markup (the first one crashes it)
    assert main(["train", *TINY, "--kimg", "0.008", "--out", str(out)]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    captured = capsys.readouterr().out.replace("\n", "")
    assert f"run directory: {run}" in captured and f"run: {run}" in captured
    missing = tmp_path / "runs[/x]" / "[red]gone[/red]"
    assert main(["eval", str(missing)]) == 2
    assert str(missing) in one_error_line(capsys)


def test_metric_grammar_in_an_error_keeps_its_brackets(stopped_run, capsys):
    assert main(["eval", str(stopped_run), "--metrics", "fidx_train"]) == 2
    assert "write <kind><N>[k]_<split>, e.g. fid10k_train" in one_error_line(capsys)  # rich dropped "[k]" before


def _malformed(run: Path, name: str, text: str) -> None:
    """Overwrite one run file with `text`."""
    (run / name).write_text(text)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("options.json", '{"model": "ladagan",\n', "options.json, line 2: not valid JSON"),
        ("options.json", "[1, 2]\n", "options.json: expected a JSON object, found a list"),
        ("options.json", '{"preset": "tiny32"}\n', "options.json lacks model, data"),
        (
            "metric-fid10_train.jsonl",
            '{"metric": "fid10_train", "value": 3.0}\n[1, 2]\n',
            "metric-fid10_train.jsonl, line 2: expected a JSON object, found a list",
        ),
        (
            "metric-fid10_train.jsonl",
            '{"metric": "fid10_train", "value": "abc"}\n',
            "metric-fid10_train.jsonl, line 1: a metric line needs a 'metric' name and a numeric 'value' "
            "(got value 'abc')",
        ),
        (
            "metric-fid10_train.jsonl",
            'not json\n{"metric": "fid10_train", "value": 3.0}\n',
            "metric-fid10_train.jsonl, line 1: not a JSON line",
        ),
    ],
)
def test_a_malformed_run_file_is_one_line_naming_the_file_and_line_in_compare(
    run_copy, tmp_path, capsys, name, text, expected
):
    _malformed(run_copy, name, text)
    report = tmp_path / "reports" / "r.md"
    assert main(["compare", str(run_copy), "--out", str(report), "--metric", "fid,kid"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {run_copy / name.split(',')[0]}") and expected in line
    assert not (tmp_path / "reports").exists()


def test_a_malformed_options_file_stops_resume_before_anything_is_written(run_copy, capsys):
    _malformed(run_copy, "options.json", '{"model": "ladagan",\n')
    before = fingerprint(run_copy)
    assert main(["train", "--resume", str(run_copy)]) == 2
    assert "options.json, line 2: not valid JSON" in one_error_line(capsys)
    assert fingerprint(run_copy) == before


def test_a_torn_final_metric_line_is_skipped_but_a_torn_middle_line_is_not(tmp_path):
    path = tmp_path / "metric-fid10_train.jsonl"
    path.write_text('{"metric": "fid10_train", "value": 3.0}\n{"metric": "fid1')
    assert [(line.metric, line.value) for line in RunDir(tmp_path).metric_lines()] == [("fid10_train", 3.0)]
    path.write_text('{"metric": "fid1\n{"metric": "fid10_train", "value": 3.0}\n')
    with pytest.raises(Exception, match=r"line 1: not a JSON line"):
        RunDir(tmp_path).metric_lines()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("total_kimg", "abc", "field 'total_kimg' is \"abc\", not a number"),
        ("batch_size", -3, "field 'batch_size' is -3; it must be positive"),
        ("betas", 5, "field 'betas' is 5, not a list of numbers"),
        ("deterministic", "yes", "field 'deterministic' is \"yes\", not true or false"),
    ],
)
@pytest.mark.parametrize("command", ["resume", "eval", "compare"])
def test_a_wrong_typed_stored_option_is_one_line_naming_file_and_field(
    run_copy, tmp_path, capsys, field, value, problem, command
):
    options = json.loads((run_copy / "options.json").read_text())
    _malformed(run_copy, "options.json", json.dumps({**options, field: value}))
    before = fingerprint(run_copy, skip=())
    argv = {
        "resume": ["train", "--resume", str(run_copy)],
        "eval": ["eval", str(run_copy), "--metrics", "fid10_train", "--features", "random-conv"],
        "compare": ["compare", str(run_copy), "--out", str(tmp_path / "reports" / "r.md")],
    }[command]
    assert main(argv) == 2
    assert (
        one_error_line(capsys)
        == f"error: {run_copy / 'options.json'}: {problem}; restore the file or start the run again"
    )
    assert fingerprint(run_copy, skip=()) == before and not (tmp_path / "reports").exists()
