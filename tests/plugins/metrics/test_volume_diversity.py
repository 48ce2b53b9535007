"""``ms-ssim-diversity``: the 3-D MS-SSIM against MONAI's ``MultiScaleSSIMMetric`` itself, the
scale count against what MONAI admits, and the metric's mean over pairs against MONAI's values of
the pairs."""

from __future__ import annotations

import itertools

import pytest
import torch
from monai.metrics.regression import MultiScaleSSIMMetric

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch, MetricContext, Needs
from medganbench.errors import RunError, UsageError
from medganbench_plugins.metrics.volume_diversity import (
    MONAI_WEIGHTS,
    MSSSIMDiversity,
    ms_ssim_3d,
    scale_weights,
)

WINDOW = (0.0, 1000.0)
#: MONAI computes in float32, its Gaussian window included: on these smooth volumes (local
#: variances ~1e-3) the window's rounding moves the variances, and the value, by up to ~1.4e-5.
#: (With MONAI's window and inputs in float64 the two agree to 1e-8, measured outside the repo.)
TOL = 5e-5


def _volumes(n: int, shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """Smooth random volumes in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, *shape, generator=g, dtype=torch.float64)
    return torch.nn.functional.avg_pool3d(x, 3, 1, 1)


def _monai(
    x: torch.Tensor, y: torch.Tensor, kernel: int, weights: tuple[float, ...]
) -> torch.Tensor:
    metric = MultiScaleSSIMMetric(
        spatial_dims=3, data_range=1.0, kernel_size=kernel, weights=weights
    )
    return torch.as_tensor(metric(x.float(), y.float()))[:, 0].double()


def test_registered_as_a_distribution_metric_of_volumes(registries: Registries) -> None:
    spec = registries.metrics.get("ms-ssim-diversity")
    assert MSSSIMDiversity.spatial_dims == (3,)
    assert MSSSIMDiversity.needs is Needs.DISTRIBUTION
    assert {p.name: p.default for p in spec.params} == {"n_pairs": 100, "kernel_size": 4}
    assert spec.load() is MSSSIMDiversity


@pytest.mark.parametrize(
    ("shape", "kernel", "scales"),
    [((32, 32, 32), 4, 3), ((40, 36, 44), 4, 4), ((64, 64, 64), 4, 5), ((32, 32, 32), 7, 3)],
)
def test_ms_ssim_equals_monai_with_the_scales_monai_admits(
    shape: tuple[int, int, int], kernel: int, scales: int
) -> None:
    x, y = _volumes(2, shape, 0), _volumes(2, shape, 1)
    y[1] = 0.7 * x[1] + 0.3 * y[1]  # one pair alike, one not
    weights = scale_weights(shape, kernel)
    assert len(weights) == scales and sum(weights) == pytest.approx(1.0, abs=1e-15)
    assert weights == pytest.approx(
        [w / sum(MONAI_WEIGHTS[:scales]) for w in MONAI_WEIGHTS[:scales]]
    )
    torch.testing.assert_close(
        ms_ssim_3d(x, y, kernel, weights), _monai(x, y, kernel, weights), rtol=0, atol=TOL
    )
    if scales < len(MONAI_WEIGHTS):  # one more scale than chosen: MONAI refuses the size
        with pytest.raises((ValueError, RuntimeError)):
            _monai(x, y, kernel, MONAI_WEIGHTS[: scales + 1])


def _metric(generated: torch.Tensor, real: torch.Tensor, **args: int) -> MSSSIMDiversity:
    metric = MSSSIMDiversity(args, None)
    for gen, ref in zip(generated.tensor_split(2), real.tensor_split(2), strict=True):
        mask = torch.ones(ref.shape[0], 1, *ref.shape[2:], dtype=torch.bool)
        # Physical units: [0, 1] scaled onto the window, and some voxels beyond it (clipped).
        metric.update(EvalBatch(gen * 1200.0 - 100.0, ref * 1200.0 - 100.0, mask, WINDOW, False))
    return metric


def _pair_values(volumes: torch.Tensor, kernel: int = 4) -> list[float]:
    """MONAI's MS-SSIM of every unordered pair of distinct volumes, in [0, 1] by hand."""
    unit = ((volumes * 1200.0 - 100.0).clamp(*WINDOW) - WINDOW[0]) / (WINDOW[1] - WINDOW[0])
    weights = scale_weights(tuple(volumes.shape[2:]), kernel)
    return [
        float(_monai(unit[i : i + 1], unit[j : j + 1], kernel, weights)[0])
        for i, j in itertools.combinations(range(len(volumes)), 2)
    ]


def test_value_is_the_mean_over_all_pairs_and_the_real_sets_is_reported() -> None:
    generated, real = _volumes(5, (16, 20, 24), 2), _volumes(4, (16, 20, 24), 3)
    metric = _metric(generated, real)
    gen_pairs, real_pairs = _pair_values(generated), _pair_values(real)
    assert metric.compute() == pytest.approx(sum(gen_pairs) / 10, abs=TOL)
    details = metric.report().details
    assert details["pairs"] == 10 and details["real_pairs"] == 6 and details["scales"] == 3
    assert details["real_ms_ssim"] == pytest.approx(sum(real_pairs) / 6, abs=TOL)


def test_n_pairs_draws_that_many_distinct_pairs_reproducibly() -> None:
    # Volumes i = mixes of one base and their own noise in proportions 0.1 (i + 1): every pair
    # has its own MS-SSIM, so four pairs' mean tells which pairs were drawn.
    base, noise = _volumes(1, (16, 16, 16), 4), _volumes(6, (16, 16, 16), 14)
    share = torch.linspace(0.1, 0.6, 6).view(6, 1, 1, 1, 1)
    generated, real = (1 - share) * base + share * noise, _volumes(3, (16, 16, 16), 5)
    value = _metric(generated, real, n_pairs=4).compute()
    assert _metric(generated, real, n_pairs=4).compute() == value
    # It is the mean of MONAI's values over some four distinct pairs of the fifteen.
    every = _pair_values(generated)
    means = [sum(c) / 4 for c in itertools.combinations(every, 4)]
    assert min(abs(m - value) for m in means) < TOL
    assert abs(sum(every) / 15 - value) > 10 * TOL


def test_copies_of_one_volume_score_one() -> None:
    one = _volumes(1, (16, 16, 16), 6)
    metric = _metric(one.repeat(4, 1, 1, 1, 1), _volumes(4, (16, 16, 16), 7))
    assert metric.compute() == pytest.approx(1.0, abs=1e-12)
    assert metric.report().details["real_ms_ssim"] < 0.9


def test_fewer_than_two_generated_volumes_are_refused() -> None:
    with pytest.raises(RunError, match="at least 2 generated"):
        _metric(_volumes(1, (16, 16, 16), 8), _volumes(2, (16, 16, 16), 9)).compute()
    with pytest.raises(RunError, match="no volumes"):
        MSSSIMDiversity({}, None).compute()


def test_a_dataset_of_whole_patient_volumes_is_refused_when_it_is_built() -> None:
    whole = VolumeGeometry(size=(16, 16, 16), spacing=None, orientation="SRA", whole_volumes=True)
    with pytest.raises(UsageError, match="whole volume"):
        MSSSIMDiversity({}, MetricContext(volume=whole))
