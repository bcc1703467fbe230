"""CelebA at 64x64 from the aligned-and-cropped JPEGs (178x218): fixed crop box, antialiased resize.

Default crop box (left, top, right, bottom) = (19, 39, 159, 179): the 140x140 square at the exact
centre of the 178x218 frame. It keeps the whole face (eyes, mouth, chin) of the aligned images and
little background, and is the centre crop used for CelebA-64 by many generative-model papers
(the 'crop140' transform). The other common choice, StyleGAN's box centred lower on the face,
(25, 57, 153, 185), is `celeba64:crop=25,57,153,185`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.errors import UserError
from bench.data.folders import ImageFolderSource, resolve_data_root, root_candidates
from bench.data.imageops import RESIZE_FILTER, Box, decode_rgb

ALIGNED_SIZE = (178, 218)
DEFAULT_CROP_BOX: Box = (19, 39, 159, 179)


def parse_box(text: str) -> Box:
    """'L,T,R,B' -> a validated crop box inside the 178x218 aligned frame."""
    try:
        left, top, right, bottom = (int(v) for v in text.split(","))
    except ValueError as exc:
        raise UserError(f"crop box '{text}' must be four integers L,T,R,B (e.g. 19,39,159,179)") from exc
    width, height = ALIGNED_SIZE
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise UserError(f"crop box '{text}' must satisfy 0<=L<R<={width} and 0<=T<B<={height}")
    return (left, top, right, bottom)


class CelebA64(ImageFolderSource):
    """CelebA's img_align_celeba JPEGs, cropped by a fixed box and resized to 64x64."""

    def __init__(self, data_root: str | None, crop_box: Box = DEFAULT_CROP_BOX) -> None:
        """Look in DIR/img_align_celeba/, DIR/celeba/img_align_celeba/ (torchvision), or DIR if so named."""
        root = resolve_data_root(data_root)
        candidates = root_candidates(root, ["img_align_celeba", "celeba/img_align_celeba"])
        how = (
            "Download img_align_celeba.zip (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), unzip it "
            "into DIR so that DIR/img_align_celeba/000001.jpg exists, and pass --data-root DIR."
        )
        name = "celeba64" if crop_box == DEFAULT_CROP_BOX else "celeba64:crop=" + ",".join(map(str, crop_box))
        super().__init__(name, 64, candidates, how)
        self.crop_box = crop_box

    def preprocessing(self) -> dict:
        """The fixed crop box (in the 178x218 aligned frame) and the resize."""
        return {"crop_box_ltrb": list(self.crop_box), "resize": RESIZE_FILTER, "resolution": 64}

    def describe(self) -> dict:
        """Source folder; every image of img_align_celeba (train+val+test partitions)."""
        return {"source": str(self.locate()), "split": "all (202,599 in the full set)"}

    def decode(self, path: Path) -> np.ndarray:
        """One aligned JPEG, cropped by the box and resized to 64."""
        return decode_rgb(path, 64, self.crop_box)
