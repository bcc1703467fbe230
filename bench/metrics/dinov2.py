"""DINOv2 ViT-L/14 features for FD-DINOv2 (Stein et al. 2023), with the Inception weights' offline rules.

Weights, in order: `--dinov2 PATH` / `$LADABENCH_DINOV2` (timm's `model.safetensors` of
`timm/vit_large_patch14_dinov2.lvd142m`, or Meta's `dinov2_vitl14_pretrain.pth`), else a download
from the Hugging Face hub where the network allows. The file's sha256 is recorded with every result
and checked against `$LADABENCH_DINOV2_SHA256` when that is set. The network is timm's
`vit_large_patch14_dinov2` at 224 px (timm resamples the position embeddings); images get clean-fid's
resize to 224 px, then ImageNet normalisation; the feature is the 1024-d class-token embedding.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from bench.core.errors import UserError
from bench.core.records import DINOV2_FEATURES
from bench.metrics.extractor import FeatureExtractor
from bench.metrics.weights import sha256_of

DINOV2_ENV = "LADABENCH_DINOV2"
DINOV2_SHA256_ENV = "LADABENCH_DINOV2_SHA256"
DINOV2_ARCH = "vit_large_patch14_dinov2"
DINOV2_HUB = ("timm/vit_large_patch14_dinov2.lvd142m", "model.safetensors")
DINOV2_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FIX = (
    f"download {DINOV2_HUB[0]} ({DINOV2_HUB[1]}) or Meta's dinov2_vitl14_pretrain.pth and pass "
    f"--dinov2 PATH (or set ${DINOV2_ENV})"
)


def _download() -> Path:
    """The hub file via huggingface_hub (cached by it), or a UserError saying why not and the fix."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UserError(
            f"DINOv2 weights: no --dinov2 PATH or ${DINOV2_ENV} and huggingface_hub is not installed; {FIX}"
        ) from None
    try:
        return Path(hf_hub_download(*DINOV2_HUB))
    except Exception as exc:  # any network or hub failure ends in the same fix
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise UserError(f"DINOv2 weights could not be downloaded ({reason}); {FIX}") from None


def locate_dinov2(explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(weights file, sha256): from the option, the environment or the hub; pinned hash checked when set."""
    chosen = explicit or os.environ.get(DINOV2_ENV)
    origin = "--dinov2" if explicit else f"${DINOV2_ENV}"
    path = Path(chosen).expanduser() if chosen else _download()
    if not path.is_file():
        raise UserError(f"DINOv2 weights not found at {path} (from {origin}); {FIX}")
    digest = sha256_of(path)
    pinned = os.environ.get(DINOV2_SHA256_ENV)
    if pinned and pinned.lower() != digest:
        raise UserError(
            f"DINOv2 weights at {path} have sha256 {digest[:16]}..., but ${DINOV2_SHA256_ENV} pins {pinned[:16]}...; "
            f"the file is corrupt or another model; {FIX}"
        )
    return path, digest


def build_trunk(weights: Path) -> nn.Module:
    """timm's DINOv2 ViT-L/14 at 224 px with the weights file loaded (timm converts Meta's key names)."""
    try:
        import timm
    except ImportError:
        raise UserError(
            "FD-DINOv2 needs timm; install it with `pip install 'ladabench[dinov2]'` (or `pip install timm`)"
        ) from None
    try:
        return timm.create_model(
            DINOV2_ARCH,
            pretrained=True,
            pretrained_cfg_overlay={"file": str(weights)},
            num_classes=0,
            img_size=DINOV2_SIZE,
        )
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        raise UserError(
            f"DINOv2 weights at {weights} do not load into {DINOV2_ARCH} ({str(exc).splitlines()[0][:120]}); {FIX}"
        ) from None


class _DinoFeatures(nn.Module):
    """ImageNet normalisation then the trunk's class-token embedding, for resized images in [0, 255]."""

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, D) of (B, 3, 224, 224) images in [0, 255]."""
        return self.trunk((x - self.mean) / self.std).flatten(1)


def load_dinov2(device: str = "cpu", weights: str | os.PathLike | None = None) -> FeatureExtractor:
    """The FD-DINOv2 feature network on `device` from a located, hashed weights file."""
    path, digest = locate_dinov2(weights)
    module = _DinoFeatures(build_trunk(path)).to(device).eval()
    return FeatureExtractor(
        name=DINOV2_FEATURES,
        fn=module,
        weights_sha256=digest,
        description=f"DINOv2 ViT-L/14 class token at {DINOV2_SIZE} px ({path.name})",
        comparable=True,
        input_size=DINOV2_SIZE,
        metric_suffix=DINOV2_FEATURES,
    )
