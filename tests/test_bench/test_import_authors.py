"""`ladabench import authors` end to end on the tiny TF checkpoints in tests/fixtures/tf_ladagan.

The run it writes must reproduce the TF outputs, evaluate and appear in `compare`; bad input must
give one clear error and leave nothing behind. Reading needs TensorFlow (the `tf` extra).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from datafakes import write_pngs

import ladagan
from bench.cli import main
from bench.core.errors import UserError
from ladagan.presets import Preset
from ladagan.tf_config import architecture_from_config

# Looked up, never imported here: TensorFlow in the test process would crash a later triton import.
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None,
        reason="reading TF checkpoints needs TensorFlow (pip install 'ladabench[tf]')",
    ),
    pytest.mark.slow,
]  # each read starts TensorFlow in a child process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_ladagan"
CKPT = "best-training-checkpoints/ckpt-3200"


@pytest.fixture(scope="module", autouse=True)
def micro_presets():
    """Register the fixtures' architectures as presets while this module runs (no real preset is that small)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("micro64", "micro128"):
            g, d = architecture_from_config(json.loads((FIXTURES / name / "config.json").read_text()))
            mp.setitem(ladagan.PRESETS, name, Preset(name, g.img_size, g, d, source="test fixture"))
        yield


@pytest.fixture(scope="module")
def data64(tmp_path_factory) -> str:
    """A 64-px image folder to evaluate against (the fixture's G makes 64-px images; 130 >= the batch of 128)."""
    folder = tmp_path_factory.mktemp("imgs64")
    write_pngs(folder, [(i, 255 - i, (7 * i) % 256) for i in range(130)], size=(64, 64))
    return f"folder:{folder}@64"


def _copy(name: str, dest: Path) -> Path:
    """A writable copy of a fixture folder."""
    return Path(shutil.copytree(FIXTURES / name, dest / name))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data64) -> Path:
    """The micro64 fixture imported through the CLI (preset found from its config.json)."""
    src = _copy("micro64", tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("runs")
    assert main(["import", "authors", str(src), "--data", data64, "--out", str(out)]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_run_directory_records_the_checkpoint_and_its_files(run_dir: Path) -> None:
    options = json.loads((run_dir / "options.json").read_text())
    assert options["model"] == "ladagan" and options["preset"] == "micro64" and options["total_kimg"] == 3.2
    source = json.loads((run_dir / "env.json").read_text())["imported_from"]
    assert source["images_seen"] == 3200 and source["config"]["g_dim"] == [16, 16, 8]
    for entry in source["files"]:
        assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert {Path(e["path"]).name for e in source["files"]} == {
        "ckpt-3200.index",
        "ckpt-3200.data-00000-of-00001",
        "config.json",
    }
    assert options["batch_size"] == 128 and options["r1_gamma"] == 1e-4 and options["betas"] == [0.5, 0.99]
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "options.json",
        "env.json",
        "log.txt",
        "stats.jsonl",
        "snapshot-000003.200.pt",
        "samples-000003.200.png",
    } <= names
    (stats,) = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert stats["images_seen"] == 3200 and stats["imported"] is True


def test_snapshot_reproduces_the_tf_outputs(run_dir: Path) -> None:
    from bench.train.snapshots import load_generator
    from bench.train.state import load_snapshot

    G_ema, _, _ = load_generator(run_dir)
    z = torch.from_numpy(np.load(FIXTURES / "micro64/expected/z.npy"))
    with torch.no_grad():
        images = G_ema(z)
    assert np.abs(images.permute(0, 2, 3, 1).numpy() - np.load(FIXTURES / "micro64/expected/g_ema.npy")).max() <= 1e-5
    snap = load_snapshot(run_dir / "snapshot-000003.200.pt")
    G, D = ladagan.build(ladagan.PRESETS["micro64"], init=False)
    G.load_state_dict(snap["G"])
    D.load_state_dict(snap["D"])
    with torch.no_grad():
        assert (
            np.abs(G.eval()(z).permute(0, 2, 3, 1).numpy() - np.load(FIXTURES / "micro64/expected/g.npy")).max() <= 1e-5
        )
        logits = D.eval()(images).numpy()
    assert np.abs(logits - np.load(FIXTURES / "micro64/expected/d_eval.npy")).max() <= 1e-5
    assert snap["images_seen"] == 3200


def test_imported_run_evaluates_and_appears_in_compare(run_dir: Path, tmp_path: Path, capsys) -> None:
    args = [
        "eval",
        str(run_dir),
        "--metrics",
        "fid",
        "--num-gen",
        "12",
        "--sample-seeds",
        "0",
        "--features",
        "random-conv",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    (line,) = [json.loads(t) for t in (run_dir / "metric-fid12_train-random-conv.jsonl").read_text().splitlines()]
    assert line["snapshot"] == "snapshot-000003.200.pt" and np.isfinite(line["value"])
    report = tmp_path / "compare.md"
    assert main(["compare", str(run_dir), "--metric", "fid", "--out", str(report)]) == 0
    text = report.read_text()
    assert "micro64" in text and f"{line['value']:.2f}"[:3] in text
    assert "Left out" not in text  # counted as a run at its budget


def test_imported_run_cannot_be_resumed(run_dir: Path, capsys) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    # --force: the import records no data hash, so the options differ from the opened data's
    message = _fails(["train", "--resume", str(run_dir), "--device", "cpu", "--force"], capsys)
    assert "holds weights imported from a checkpoint trained elsewhere" in message
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir() if p.name in before} == before


def _fails(args: list[str], capsys) -> str:
    """Run the CLI expecting a user error; return its message on one line."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.count("error:") == 1
    return " ".join(captured.err.split())


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-index", "checkpoint index"),
        ("no-data", "checkpoint data for"),
        ("truncated", "is truncated or damaged"),
        ("not-a-checkpoint", "holds no TensorFlow checkpoint"),
        ("missing-folder", "does not exist"),
        ("bad-config", "is not a readable JSON config"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, expected, tmp_path: Path, data64, capsys) -> None:
    src = _copy("micro64", tmp_path)
    ckpt = src / CKPT
    if case == "no-index":
        Path(f"{ckpt}.index").unlink()
    elif case == "no-data":
        Path(f"{ckpt}.data-00000-of-00001").unlink()
    elif case == "truncated":
        data = Path(f"{ckpt}.data-00000-of-00001")
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif case == "not-a-checkpoint":
        src = tmp_path / "photos"
        write_pngs(src, [(1, 2, 3)])
    elif case == "missing-folder":
        src = tmp_path / "nowhere"
    elif case == "bad-config":
        (src / "config.json").write_text("{not json")
    out = tmp_path / "runs"
    message = _fails(["import", "authors", str(src), "--data", data64, "--out", str(out)], capsys)
    assert expected in message
    assert not out.exists() or not any(out.iterdir())


def test_other_resolution_is_refused_by_config_and_by_shapes(tmp_path: Path, data64, capsys) -> None:
    src = _copy("micro128", tmp_path)
    out = tmp_path / "runs"
    message = _fails(
        ["import", "authors", str(src), "--preset", "micro64", "--data", data64, "--out", str(out)], capsys
    )
    assert "does not match preset 'micro64'" in message and "img_size: preset 64 != checkpoint 128" in message
    (src / "config.json").unlink()  # without a config only the variables can tell
    message = _fails(
        ["import", "authors", str(src), "--preset", "micro64", "--data", data64, "--out", str(out)], capsys
    )
    assert "does not fit preset 'micro64'" in message
    assert "to_rgb.weight is (3, 4, 3, 3) in the checkpoint but (3, 2, 3, 3) here" in message
    assert not out.exists() or not any(out.iterdir())


def test_config_that_matches_no_preset_names_the_closest(tmp_path: Path, capsys) -> None:
    src = _copy("micro64", tmp_path)
    conf = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**conf, "d_mlp": 24}))
    message = _fails(["import", "authors", str(src), "--out", str(tmp_path / "runs")], capsys)
    assert "matches no ladagan preset" in message and "'micro64'" in message and "discriminator.mlp_dim" in message


def test_missing_tensorflow_gives_the_install_line(tmp_path: Path, monkeypatch) -> None:
    from bench.train.tf_checkpoint import INSTALL_HINT, locate, read_variables

    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: not installed')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))  # the reading child finds this one first
    with pytest.raises(UserError) as info:
        read_variables(locate(FIXTURES / "micro64"), keep=("generator/",))
    assert str(info.value) == INSTALL_HINT and "ladabench[tf]" in INSTALL_HINT


def test_unknown_preset_or_dataset_fails_before_reading(tmp_path: Path, capsys) -> None:
    src, out = FIXTURES / "micro64", tmp_path / "runs"
    assert "preset 'nosuch' is unknown" in _fails(
        ["import", "authors", str(src), "--preset", "nosuch", "--out", str(out)], capsys
    )
    assert "dataset 'nosuchdata' is unknown" in _fails(
        ["import", "authors", str(src), "--data", "nosuchdata", "--out", str(out)], capsys
    )
    assert "has no default dataset; pass --data" in _fails(["import", "authors", str(src), "--out", str(out)], capsys)
    assert not out.exists()
