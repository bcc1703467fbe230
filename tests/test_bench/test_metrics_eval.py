"""`ladabench eval` / `data stats` / `profile` end to end with the real data layer, training engine and models.

A few tiny training steps make a real run directory; features come from the fast seeded random
conv net (non-comparable by design) so the whole file takes seconds; the real Inception network is
exercised in test_metrics_cleanfid.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.errors import UserError
from bench.metrics.evaluate import evaluate_snapshot

PROTOCOL_FIELDS = (
    "value",
    "std",
    "values_per_seed",
    "num_gen",
    "num_ref",
    "reference",
    "resize_mode",
    "weights_sha256",
    "seeds",
    "snapshot",
    "kimg",
    "cleanfid_version",
    "elapsed_s",
    "comparable",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real run of the tiny LadaGAN preset on the embedded dataset (16 images, two steps)."""
    out = tmp_path_factory.mktemp("runs")
    args = [
        "train",
        "ladagan",
        "--preset",
        "tiny",
        "--batch",
        "8",
        "--kimg",
        "0.016",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _lines(path: Path) -> list[dict]:
    """The JSON lines of a metric file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_evaluate_snapshot_appends_protocol_lines_and_reuses_reference(run_dir: Path) -> None:
    logs: list[str] = []
    first = evaluate_snapshot(
        run_dir,
        None,
        ["fid", "kid"],
        "cpu",
        num_gen=40,
        seeds=[0, 1],
        features="random-conv",
        show_progress=False,
        log=logs.append,
    )
    assert [r.metric for r in first] == ["fid40_train-random-conv", "kid40_train-random-conv"]
    fid = first[0]
    for field in PROTOCOL_FIELDS:
        assert field in fid.to_json()
    assert fid.comparable is False and fid.num_gen == 40 and fid.num_ref == 40
    assert fid.reference.data == "fashion10k" and len(fid.reference.content_hash) == 64
    assert fid.snapshot.startswith("snapshot-") and fid.seeds == [0, 1] and fid.generator == "G_ema"
    assert fid.value == pytest.approx(sum(fid.values_per_seed) / 2)
    assert any("computed and cached" in line for line in logs)

    logs.clear()
    second = evaluate_snapshot(
        run_dir,
        None,
        ["fid40_train-random-conv"],
        "cpu",
        seeds=[0, 1],
        features="random-conv",
        show_progress=False,
        log=logs.append,
    )
    assert any("reused cached" in line for line in logs)
    assert second[0].values_per_seed == fid.values_per_seed  # same seeds, same snapshot -> same FID
    lines = _lines(run_dir / "metric-fid40_train-random-conv.jsonl")
    assert len(lines) == 2 and lines[1]["reference"]["cache"] == "hit"
    assert len(_lines(run_dir / "metric-kid40_train-random-conv.jsonl")) == 1


def test_eval_cli_prints_results_and_refuses_unknown_snapshot(run_dir: Path, capsys) -> None:
    code = main(
        [
            "eval",
            str(run_dir),
            "--metrics",
            "fid",
            "--num-gen",
            "20",
            "--sample-seeds",
            "0",
            "--features",
            "random-conv",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "fid20_train-random-conv" in out and "NO" in out  # not comparable, said so
    assert main(["eval", str(run_dir), "--snapshot", "999", "--features", "random-conv"]) == 2
    assert "available: snapshot-" in capsys.readouterr().err
    assert main(["eval", str(run_dir / "no-such-run"), "--features", "random-conv"]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(UserError, match="--features random-conv"):
        evaluate_snapshot(run_dir, None, ["fid40_train-random-conv"], "cpu", show_progress=False)


def test_eval_cli_prints_intervals_and_precision_recall(run_dir: Path, capsys) -> None:
    import re

    # N=24: another N than the other tests here use, so that none of them finds this test's cached reference
    code = main(
        [
            "eval",
            str(run_dir),
            "--metrics",
            "fid,kid,pr",
            "--num-gen",
            "24",
            "--sample-seeds",
            "0,1",
            "--features",
            "random-conv",
            "--device",
            "cpu",
            "--ci-groups",
            "10",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for name in ("fid24_train-random-conv", "kid24_train-random-conv"):
        line = next(row for row in out.splitlines() if name in row)
        lo, hi = (float(v) for v in re.search(r"\[([-+0-9.e]+), ([-+0-9.e]+)\]", line).groups())
        assert lo < hi
    pr_line = next(row for row in out.splitlines() if "pr24_train-random-conv" in row)
    assert all(f"{part} " in pr_line for part in ("P", "R", "D", "C"))
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--metrics",
                "fid",
                "--num-gen",
                "24",
                "--ci-groups",
                "1",
                "--features",
                "random-conv",
            ]
        )
        == 2
    )
    assert "--ci-groups 1" in capsys.readouterr().err


def test_data_stats_precomputes_then_reuses(capsys) -> None:
    args = ["data", "stats", "fashion10k", "--num-ref", "30", "--features", "random-conv", "--device", "cpu"]
    assert main(args) == 0
    assert "computed and cached" in capsys.readouterr().out
    assert main(args) == 0
    assert "reused cached features" in capsys.readouterr().out


def test_profile_cli_writes_json_and_csv(tmp_path: Path, capsys) -> None:
    from bench.metrics.profile import count_params
    from bench.registry import get_model

    out_json, out_csv = tmp_path / "p.json", tmp_path / "p.csv"
    code = main(
        [
            "profile",
            "ladagan",
            "--preset",
            "tiny32",
            "--repeats",
            "2",
            "--warmup",
            "1",
            "--batch",
            "4",
            "--device",
            "cpu",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "MACs" in printed and "FLOPs" in printed
    (row,) = json.loads(out_json.read_text())["rows"]
    spec = get_model("ladagan")
    G, D = spec.build(spec.presets["tiny32"])
    assert (row["params_g"], row["params_d"]) == (count_params(G), count_params(D))
    assert row["g_flops_per_image"] == 2 * row["g_macs_per_image"]
    # A training iteration runs G twice, D three times plus backward passes: well above G + D forward.
    assert row["train_flops_per_real_image"] > 3 * (row["g_flops_per_image"] + 2 * row["d_macs_per_image"])
    assert row["gen_img_per_sec"] > 0 and row["train_img_per_sec"] > 0 and row["train_repeats"] == 2
    assert row["device"] == "cpu" and row["timer"].startswith("time.perf_counter")
    assert row["train_peak_rss_bytes"] > 0
    header = out_csv.read_text().splitlines()[0].split(",")
    assert "g_macs_per_image" in header and "train_img_per_sec" in header


def test_attention_scaling_cli(tmp_path: Path, capsys) -> None:
    import torch

    out_json, threads = tmp_path / "a.json", torch.get_num_threads()
    try:
        code = main(
            [
                "profile",
                "--attention-scaling",
                "--tokens",
                "64,256",
                "--dim",
                "32",
                "--repeats",
                "2",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--device",
                "cpu",
                "--json",
                str(out_json),
            ]
        )
    finally:
        torch.set_num_threads(threads)  # --threads sets a process-wide value
    assert code == 0
    rows = {(r["layer"], r["tokens"]): r for r in json.loads(out_json.read_text())["rows"]}
    assert set(rows) == {(k, n) for k in ("lada", "dot", "grid") for n in (64, 256)}
    assert rows["lada", 256]["macs_per_image"] == 4 * rows["lada", 64]["macs_per_image"]
    assert rows["dot", 256]["macs_per_image"] > 4 * rows["dot", 64]["macs_per_image"]
    assert all(r["fwd_ms_median"] > 0 and r["cpu_threads"] == 1 for r in rows.values())
    assert main(["profile", "--attention-scaling", "--tokens", "96"]) == 2
    assert "not a square" in capsys.readouterr().err


@pytest.mark.gpu
def test_cuda_profile_uses_events_and_allocator_peaks() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from bench.metrics.profile import profile_model

    row = profile_model("ladagan", "tiny32", batch=16, device="cuda", repeats=10, warmup=2).to_json()
    assert row["timer"] == "CUDA events" and row["train_repeats"] == 10
    assert row["gen_peak_alloc_bytes"] > 0 and row["train_peak_reserved_bytes"] >= row["train_peak_alloc_bytes"]
    assert row["gen_img_per_sec_min"] <= row["gen_img_per_sec"] <= row["gen_img_per_sec_max"]
