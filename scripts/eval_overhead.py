"""How much the FID feature pipeline adds to a bare Inception forward on the same images (issue: <= 10%).

Usage: python scripts/eval_overhead.py [--images 100] [--batch 50] [--rounds 3] [--threads 0]
Alternates, in one process, (a) the pipeline `generated_features` (latents, tiny LadaGAN forward,
quantise to uint8, clean-fid resize, Inception) and (b) the Inception forward alone on the batch
tensors the pipeline feeds it; prints the medians and the pipeline's overhead over (b).
"""

import argparse
import statistics
import time

import torch

from bench.metrics.features import load_feature_extractor, resize_batch
from bench.metrics.generate import generate_uint8, generated_features
from bench.registry import get_model

parser = argparse.ArgumentParser()
parser.add_argument("--images", type=int, default=100)
parser.add_argument("--batch", type=int, default=50)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--threads", type=int, default=0)
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
spec = get_model("ladagan")
G, _ = spec.build(spec.preset("tiny", 32))
G.eval()
extractor = load_feature_extractor()
resized = [
    resize_batch(generate_uint8(G, 0, args.batch, start=s, batch_size=args.batch))
    for s in range(0, args.images, args.batch)
]


def pipeline() -> None:
    """The evaluation path as `ladabench eval` runs it."""
    generated_features(G, 0, args.images, extractor, batch_size=args.batch, show_progress=False)


@torch.no_grad()
def bare() -> None:
    """Only the Inception forward passes, on tensors prepared beforehand."""
    for batch in resized:
        extractor.fn(batch)


bare()  # warm-up (TorchScript profiles its first calls)
times = {"pipeline": [], "bare": []}
for _ in range(args.rounds):
    for name, fn in (("pipeline", pipeline), ("bare", bare)):
        start = time.perf_counter()
        fn()
        times[name].append(time.perf_counter() - start)
p, b = statistics.median(times["pipeline"]), statistics.median(times["bare"])
print(f"{args.images} images, batch {args.batch}, threads {torch.get_num_threads()}")
print(f"pipeline median {p:.2f} s ({args.images / p:.1f} img/s), runs {[round(t, 2) for t in times['pipeline']]}")
print(f"bare Inception median {b:.2f} s ({args.images / b:.1f} img/s), runs {[round(t, 2) for t in times['bare']]}")
print(f"pipeline overhead {100 * (p / b - 1):.1f}%")
