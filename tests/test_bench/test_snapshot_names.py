"""Snapshot names below 1 kimg never collide: keep-last-K and the fall-back to an earlier snapshot work on tiny runs."""

from __future__ import annotations

from threads import one_torch_thread

from bench.cli import main
from bench.core.rundir import RunDir, snapshot_kimg
from bench.train.state import load_snapshot, save_snapshot

TINY = ["ladagan", "--preset", "tiny", "--batch", "8", "--tick-kimg", "0.008", "--device", "cpu"]


def test_sub_kimg_snapshots_get_distinct_names_keep_last_k_keeps_two_and_the_fall_back_uses_the_older(tmp_path, capsys):
    with one_torch_thread():
        args = [*TINY, "--kimg", "0.032", "--snapshot-kimg", "0.008", "--keep-snapshots", "2", "--out", str(tmp_path)]
        assert main(["train", *args]) == 0
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    names = [p.name for p in RunDir(run).snapshots()]
    assert names == ["snapshot-000000.024.pt", "snapshot-000000.032.pt"]  # four written, the oldest two pruned
    assert [load_snapshot(run / n)["images_seen"] for n in names] == [24, 32]
    log = (run / "log.txt").read_text()
    assert "removed snapshot-000000.008.pt" in log and "removed snapshot-000000.016.pt" in log

    newest = run / names[-1]
    newest.write_bytes(newest.read_bytes()[:100])  # torn: resume must fall back to 24 images
    with one_torch_thread():
        assert main(["train", "--resume", str(run)]) == 0
    assert "resumed from snapshot-000000.024.pt at 24 images" in (run / "log.txt").read_text()
    assert (run / "snapshot-000000.032.pt.corrupt").exists()
    assert load_snapshot(RunDir(run).snapshots()[-1])["images_seen"] == 32


def test_old_whole_kimg_names_still_read_and_order_among_new_ones(tmp_path):
    images = {
        "snapshot-000000.500.pt": 500,
        "snapshot-000001.pt": 1000,
        "snapshot-000001.250.pt": 1250,
        "snapshot-000010.pt": 10000,
        "snapshot-000002.999.pt": 2999,
    }
    for name, count in images.items():
        save_snapshot(tmp_path / name, {"images_seen": count})
    run = RunDir(tmp_path)
    assert [p.name for p in run.snapshots()] == sorted(images, key=images.get)
    assert [snapshot_kimg(p) for p in run.snapshots()] == [0.5, 1, 1.25, 2.999, 10]
    assert run.snapshot_named("1.25") == tmp_path / "snapshot-000001.250.pt"
    assert run.snapshot_named("10") == tmp_path / "snapshot-000010.pt"
    assert run.latest_snapshot() == tmp_path / "snapshot-000010.pt"
