"""What a feature network is to the metrics: a callable on resized images, with its protocol fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# Re-exported: the records own the name, since it decides a metric line's report kind (FD-DINOv2).
from bench.core.records import DINOV2_FEATURES as DINOV2_FEATURES

REAL_FEATURES = "inception"
TEST_FEATURES = ("random-conv",)
RESIZE_MODE = "clean"  # clean-fid mode: PIL bicubic (antialiased) in float32, no quantisation
INCEPTION_SIZE = 299


def resize_description(size: int) -> str:
    """The resize protocol recorded with every number (clean-fid's `clean` resizer at `size` px)."""
    return f"clean-fid clean: PIL bicubic to {size}x{size}, float32, no re-quantisation"


RESIZE_DESCRIPTION = resize_description(INCEPTION_SIZE)


@dataclass(frozen=True)
class FeatureExtractor:
    """A feature network as clean-fid calls it: float (B, 3, S, S) in [0, 255] -> (B, D), S = input_size."""

    name: str  # "inception", "dinov2" or a test extractor's name
    fn: Callable[[torch.Tensor], torch.Tensor]
    weights_sha256: str  # the weights file's hash, or a label for seeded random weights
    description: str
    comparable: (
        bool  # True for the known networks (Inception by sha256, DINOv2); False for test stand-ins, unknown weights
    )
    input_size: int = INCEPTION_SIZE  # images are resized to input_size x input_size before `fn`
    metric_suffix: str | None = (
        None  # appended to metric names (fid10k_train-<suffix>); None only for comparable Inception
    )
