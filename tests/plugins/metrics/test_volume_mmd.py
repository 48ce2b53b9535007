"""``mmd`` against MONAI's own ``MMDMetric`` (equal set sizes, where MONAI computes it) and
against the unbiased estimator written out with explicit Gram matrices (unequal sizes, which
MONAI refuses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics.mmd import MMDMetric

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch, MetricContext, Needs
from medganbench.errors import DataError, RunError, UsageError
from medganbench_plugins.metrics.volume_mmd import MMD

WINDOW = (-1000.0, 1000.0)
SHAPE = (12, 16, 16)


def _volumes(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """(n, 1, 12, 16, 16) smooth random volumes, partly outside the window (clipping counts)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, *SHAPE, generator=g, dtype=torch.float64)
    return torch.nn.functional.avg_pool3d(x, 3, 1, 1) * 3000.0 - 1500.0 + shift


def _unit(x: torch.Tensor) -> torch.Tensor:
    lo, hi = WINDOW
    return (x.clamp(lo, hi) - lo) / (hi - lo)


def _mmd(generated: torch.Tensor, real: torch.Tensor) -> MMD:
    metric = MMD({}, None)
    # Batches of different sizes, generated and real cut differently: only the sets count.
    for gen, ref in zip(generated.tensor_split(3), real.tensor_split(3), strict=True):
        mask = torch.ones(ref.shape[0], 1, *SHAPE, dtype=torch.bool)
        metric.update(EvalBatch(gen, ref, mask, WINDOW, False, "b"))
    return metric


def test_registered_as_a_distribution_metric_of_volumes(registries: Registries) -> None:
    assert MMD.spatial_dims == (3,)
    assert MMD.needs is Needs.DISTRIBUTION and MMD.higher_is_better is False
    assert registries.metrics.get("mmd").load() is MMD


def test_equals_monai_mmd_metric_on_sets_of_equal_size() -> None:
    generated, real = _volumes(7, 1, shift=200.0), _volumes(7, 2)
    want = float(MMDMetric()(_unit(real), _unit(generated)))  # MONAI's (y, y_pred)
    assert _mmd(generated, real).compute() == pytest.approx(want, rel=1e-10)
    assert want > 0.0


def _gram_reference(generated: torch.Tensor, real: torch.Tensor) -> float:
    """Gretton et al. 2012, Eq. 3, linear kernel, by explicit Gram matrices."""
    x = _unit(generated).flatten(1).numpy()
    y = _unit(real).flatten(1).numpy()
    m, n = len(y), len(x)
    kyy, kxx, kxy = y @ y.T, x @ x.T, x @ y.T
    return float(
        (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        + (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        - 2.0 * kxy.sum() / (m * n)
    )


def test_sets_of_different_sizes_use_the_same_estimator_with_their_own_sizes() -> None:
    generated, real = _volumes(5, 3, shift=-150.0), _volumes(9, 4)
    metric = _mmd(generated, real)
    assert metric.compute() == pytest.approx(_gram_reference(generated, real), rel=1e-10)
    details = metric.report().details
    assert details["n_generated"] == 5 and details["n_real"] == 9
    assert details["value_per_voxel"] == pytest.approx(metric.compute() / (12 * 16 * 16))


def test_a_set_of_one_volume_is_refused() -> None:
    with pytest.raises(RunError, match="at least 2 generated"):
        _mmd(_volumes(1, 5), _volumes(3, 6)).compute()
    with pytest.raises(RunError, match="no volumes"):
        MMD({}, None).compute()


def test_volumes_of_another_size_are_refused() -> None:
    metric = _mmd(_volumes(3, 7), _volumes(3, 8))
    small = _volumes(2, 9)[:, :, 1:]
    with pytest.raises(DataError, match="one size"):
        metric.update(EvalBatch(small, small, small > 0, WINDOW, False, "b"))


def test_a_dataset_of_whole_patient_volumes_is_refused_when_it_is_built() -> None:
    whole = VolumeGeometry(size=SHAPE, spacing=None, orientation="SRA", whole_volumes=True)
    with pytest.raises(UsageError, match="whole volume"):
        MMD({}, MetricContext(volume=whole))
