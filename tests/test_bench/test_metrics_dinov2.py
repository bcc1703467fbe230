"""FD-DINOv2: the loader's offline rules, preprocessing and hash, with a small stand-in network built here.

The real ViT-L/14 weights (1.2 GB) cannot be fetched offline; the stand-in replaces only the timm
call that builds the trunk from the weights file, so locating, hashing, resizing, normalising and
the report's separation from Inception rows are the real code.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from reportfakes import make_run
from torch import nn

import bench.metrics.dinov2 as dinov2
from bench.core.errors import UserError
from bench.metrics.features import image_features, load_feature_extractor
from bench.metrics.names import resolve_metric_names
from bench.report.build import build_report
from bench.report.columns import parse_metric_list


class _TinyTrunk(nn.Module):
    """A 14-px patch embedding and mean pooling: the shape of a ViT/14 feature, in a few hundred weights."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 14, stride=14)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 8) features."""
        return torch.tanh(self.patch(x)).mean((2, 3))


def _build_from_file(weights: Path) -> nn.Module:
    """Stand-in for timm's builder: the tiny trunk with the file's state dict."""
    trunk = _TinyTrunk()
    trunk.load_state_dict(torch.load(weights, weights_only=True))
    return trunk


@pytest.fixture()
def weights(tmp_path: Path, monkeypatch) -> Path:
    """A seeded stand-in weights file, the stand-in builder in place, no pinned hash."""
    torch.manual_seed(3)
    path = tmp_path / "dinov2-standin.pth"
    torch.save(_TinyTrunk().state_dict(), path)
    monkeypatch.setattr(dinov2, "build_trunk", _build_from_file)
    monkeypatch.delenv(dinov2.DINOV2_SHA256_ENV, raising=False)
    return path


def _expected_features(images: np.ndarray, weights: Path) -> np.ndarray:
    """Written here: PIL bicubic on float channels to 224 px, clip, ImageNet normalisation, the trunk."""
    resized = []
    for img in images:
        channels = [
            np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F").resize((224, 224), Image.BICUBIC))
            for c in range(3)
        ]
        resized.append(np.clip(np.stack(channels), 0, 255))
    x = torch.from_numpy(np.stack(resized)) / 255.0
    mean, std = (
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
    )
    with torch.no_grad():
        return _build_from_file(weights)((x - mean) / std).numpy()


def test_dinov2_from_env_records_hash_and_preprocesses_like_stated(weights: Path, monkeypatch) -> None:
    monkeypatch.setenv(dinov2.DINOV2_ENV, str(weights))
    extractor = load_feature_extractor("dinov2")
    assert extractor.name == "dinov2" and extractor.comparable and extractor.input_size == 224
    assert extractor.weights_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    feats = image_features(images, extractor, batch_size=2, show_progress=False)
    np.testing.assert_allclose(feats, _expected_features(images, weights), rtol=0, atol=1e-5)
    # The option wins over the environment, and the hash pin is honoured.
    monkeypatch.setenv(dinov2.DINOV2_ENV, str(weights.parent / "elsewhere.pth"))
    assert load_feature_extractor("dinov2", dinov2=str(weights)).weights_sha256 == extractor.weights_sha256
    monkeypatch.setenv(dinov2.DINOV2_SHA256_ENV, extractor.weights_sha256)
    assert dinov2.locate_dinov2(weights)[1] == extractor.weights_sha256


def test_dinov2_offline_errors_name_the_fix(weights: Path, monkeypatch) -> None:
    monkeypatch.setenv(dinov2.DINOV2_ENV, str(weights.parent / "absent.pth"))
    with pytest.raises(UserError) as missing:
        load_feature_extractor("dinov2")
    monkeypatch.setenv(dinov2.DINOV2_SHA256_ENV, "00" * 32)
    with pytest.raises(UserError) as pinned:
        load_feature_extractor("dinov2", dinov2=str(weights))
    assert dinov2.DINOV2_SHA256_ENV in str(pinned.value)
    # No path anywhere and no network: the hub download fails; the message still names the fix.
    monkeypatch.delenv(dinov2.DINOV2_ENV)
    hub = types.ModuleType("huggingface_hub")

    def offline(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    hub.hf_hub_download = offline
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    with pytest.raises(UserError) as offline_error:
        load_feature_extractor("dinov2")
    for error in (missing, pinned, offline_error):
        message = str(error.value)
        assert "\n" not in message and "--dinov2 PATH" in message and "$LADABENCH_DINOV2" in message
    assert "could not be downloaded" in str(offline_error.value)


def test_dinov2_metric_names_and_report_columns_never_mix_with_inception(tmp_path: Path) -> None:
    assert [n.name for n in resolve_metric_names(["fid", "kid"], 500, 500, features="dinov2")] == [
        "fid500_train-dinov2",
        "kid500_train-dinov2",
    ]
    root = tmp_path / "runs"
    for i, (model, fid, fd) in enumerate((("ladagan", 40.0, 300.0), ("conv", 60.0, 500.0))):
        run = make_run(root, i, model, 0, {4: fid}, fid / 2)
        line = json.loads((run / "metric-fid500_train.jsonl").read_text())
        line.update(metric="fid500_train-dinov2", features="dinov2", value=fd, weights_sha256="cd" * 32)
        (run / "metric-fid500_train-dinov2.jsonl").write_text(json.dumps(line) + "\n")
    report = build_report([root], parse_metric_list("fid,fd-dinov2"), tmp_path / "r.md")
    table = report.table.set_index("model")
    assert table.loc["ladagan", "fid_mean"] == 40.0 and table.loc["ladagan", "fd_dinov2_mean"] == 300.0
    assert table.loc["conv", "fid_mean"] == 60.0 and table.loc["conv", "fd_dinov2_mean"] == 500.0
    assert "FD-DINOv2" in report.markdown_path.read_text()
