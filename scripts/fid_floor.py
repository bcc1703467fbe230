"""FID/KID of real images against the reference set: the floor a generator's small-N score cannot beat.

At N generated vs N reference images FID carries a bias that does not vanish for a perfect generator.
This scores N training images that are not in the N-image reference set (the same reference the
benchmarks use, from the suite's cache) exactly as `ladabench eval` scores generated ones.

    python scripts/fid_floor.py --num 250 [--data fashion10k]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.data import DEFAULT_DATASET, load_dataset
from bench.metrics.features import image_features, load_feature_extractor
from bench.metrics.quality import KID_SCALE, fid_from_features, kid_subset_values
from bench.metrics.reference import load_or_compute_reference, reference_indices


def main() -> None:
    """Print the real-vs-reference FID and KID at N."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=250, help="images on each side (the benchmarks' N)")
    parser.add_argument("--data", default=DEFAULT_DATASET, help="dataset (default: the embedded fashion10k)")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    extractor = load_feature_extractor("inception")
    reference = load_or_compute_reference(dataset, args.num, extractor, show_progress=False)
    others = np.setdiff1d(np.arange(dataset.count), reference_indices(dataset.count, args.num))[: args.num]
    features = image_features(np.asarray(dataset.images[others]), extractor, show_progress=False)
    kid = kid_subset_values(features, reference.features, subset_size=min(args.num, 1000)).mean() * KID_SCALE
    print(
        f"{args.data}: {args.num} real training images outside the reference vs the {args.num}-image reference: "
        f"FID {fid_from_features(features, reference):.1f}, KID x10^3 {kid:.2f}"
    )


if __name__ == "__main__":
    main()
