"""Precision, recall, density, coverage and FID∞ on fixed features (no network).

Checked against the ``prdc`` package (Naeem et al.'s reference code) within 1e-6, and on
constructed sets whose answers are known.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from medganbench.errors import RunError
from medganbench_plugins.metrics.distribution import fid_from_features, fid_infinity
from medganbench_plugins.metrics.manifold import (
    density_coverage,
    kth_neighbour_radii,
    precision_recall,
)


@pytest.fixture(scope="module")
def features() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    real = rng.normal(size=(240, 64)).astype(np.float32)
    generated = (rng.normal(size=(200, 64)) * 1.15 + 0.15).astype(np.float32)
    return real, generated


@pytest.mark.parametrize("k", [3, 5])
def test_all_four_agree_with_the_prdc_package(features, k: int, capsys) -> None:
    real, generated = features
    reference = compute_prdc(real, generated, nearest_k=k)
    precision, recall = precision_recall(torch.from_numpy(real), torch.from_numpy(generated), k)
    density, coverage = density_coverage(torch.from_numpy(real), torch.from_numpy(generated), k)
    assert precision == pytest.approx(reference["precision"], abs=1e-6)
    assert recall == pytest.approx(reference["recall"], abs=1e-6)
    assert density == pytest.approx(reference["density"], abs=1e-6)
    assert coverage == pytest.approx(reference["coverage"], abs=1e-6)
    assert 0.0 < recall < 1.0 and 0.0 < precision < 1.0  # a case that tells roles apart


def test_roles_are_not_swapped(features) -> None:
    real, generated = (torch.from_numpy(x) for x in features)
    p, r = precision_recall(real, generated)
    assert precision_recall(generated, real) == pytest.approx((r, p))


def test_identical_sets_have_full_precision_recall_and_coverage() -> None:
    x = torch.randn(150, 32, generator=torch.Generator().manual_seed(1))
    assert precision_recall(x, x.clone()) == (1.0, 1.0)
    assert density_coverage(x, x.clone())[1] == 1.0


def test_disjoint_clusters_score_zero() -> None:
    g = torch.Generator().manual_seed(2)
    real = torch.randn(120, 16, generator=g)
    far = torch.randn(120, 16, generator=g) + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    assert density_coverage(real, far) == (0.0, 0.0)


def test_dropping_half_the_modes_halves_recall_and_coverage_not_precision() -> None:
    g = torch.Generator().manual_seed(3)
    # Low-dimensional, well-sampled modes: within a mode the k-NN balls cover the real samples,
    # so recall and coverage measure the modes covered.
    centres = torch.randn(10, 3, generator=g) * 50.0
    real = torch.cat([c + torch.randn(60, 3, generator=g) for c in centres])
    collapsed = torch.cat([c + torch.randn(120, 3, generator=g) for c in centres[:5]])
    precision, recall = precision_recall(real, collapsed)
    density, coverage = density_coverage(real, collapsed)
    assert recall == pytest.approx(0.5, abs=0.06) and coverage == pytest.approx(0.5, abs=0.06)
    assert precision > 0.9


def test_kth_neighbour_excludes_the_sample_itself() -> None:
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert kth_neighbour_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert kth_neighbour_radii(points, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_too_few_images_for_k_is_one_message() -> None:
    with pytest.raises(RunError, match="at least 4 images"):
        kth_neighbour_radii(torch.randn(3, 8), 3)


def test_fid_infinity_removes_the_small_sample_bias() -> None:
    g = torch.Generator().manual_seed(4)
    real = torch.randn(400, 24, generator=g, dtype=torch.float64)
    generated = torch.randn(200, 24, generator=g, dtype=torch.float64)  # the same distribution
    full = fid_from_features(real, generated)
    value, details = fid_infinity(real, generated)
    assert value < 0.35 * full  # the bias that FID at N=200 carries is mostly gone
    assert details["fit_sizes"][0] == 40 and details["fit_sizes"][-1] == 200
    assert len(details["fit_sizes"]) == len(details["fit_fids"]) == 10
    assert details["fit_slope"] > 0  # FID grows as N shrinks: the 1/N bias


def test_fid_infinity_needs_enough_images() -> None:
    with pytest.raises(RunError, match="at least 20 generated"):
        fid_infinity(torch.randn(50, 8), torch.randn(10, 8))
