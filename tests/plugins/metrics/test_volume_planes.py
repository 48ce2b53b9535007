"""``fd-planes``: per-plane values against slicing, quantisation, encoding and a Fréchet distance
written out here independently (plain indexing, numpy, scipy.linalg.sqrtm), the plane named by
the declared orientation, the seeded real-halves noise floor and the per-plane feature cache.

No weights are needed: the metric takes a registered encoder by name, and these tests register
a small deterministic one (mean intensities of a 3 x 3 grid of cells) through
``MetricContext.encoders``, as a run passes the registry's. What is checked is the machinery
around the encoder, which is the 2-D ``fd``'s (tests/plugins/metrics/test_encoders.py checks
``fd`` itself with the Inception network).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import torch

from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.manager import Registries
from medganbench.core.metric import EvalBatch, MetricContext, Needs
from medganbench.core.specs import EncoderSpec
from medganbench.errors import DataError, UsageError
from medganbench_plugins.metrics.volume_planes import FDPlanes

WINDOW = (-1000.0, 1000.0)
SHAPE = (6, 8, 10)  # (D, H, W): every plane has its own slice count and slice size


class CellMeans(Encoder):
    """uint8 RGB → the mean of the first channel over a 3 x 3 grid of cells (9 features)."""

    def __init__(self, args: Mapping[str, Any], ctx: EncoderContext) -> None:
        super().__init__(args, ctx)
        self.dim = 9
        self.preprocessing = "first channel / 255, adaptive average pool to 3 x 3"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        x = images[:, :1].to(torch.float32) / 255.0
        return torch.nn.functional.adaptive_avg_pool2d(x, (3, 3)).flatten(1)


ENCODER = EncoderSpec(name="cell-means", summary="3 x 3 cell means", version="1", factory=CellMeans)


def _volumes(n: int, seed: int) -> torch.Tensor:
    """(n, 1, 6, 8, 10) smooth random volumes in HU-like units, partly outside the window."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, *SHAPE, generator=g, dtype=torch.float64)
    return torch.nn.functional.avg_pool3d(x, 3, 1, 1) * 3000.0 - 1500.0


def _context(orientation: str = "SPL", **kwargs: Any) -> MetricContext:
    geometry = VolumeGeometry(size=SHAPE, spacing=(1.0, 1.0, 1.0), orientation=orientation)
    return MetricContext(encoders={ENCODER.name: ENCODER}, volume=geometry, **kwargs)


def _score(
    generated: torch.Tensor, real: torch.Tensor, ctx: MetricContext, **args: str
) -> FDPlanes:
    metric = FDPlanes({"encoder": ENCODER.name, **args}, ctx)
    # Two batches each: accumulating across updates is part of what is checked.
    for gen, ref in zip(generated.tensor_split(2), real.tensor_split(2), strict=True):
        mask = torch.ones(ref.shape[0], 1, *SHAPE, dtype=torch.bool)
        metric.update(EvalBatch(gen, ref, mask, WINDOW, False, "b"))
    metric.compute()
    return metric


# ---- the independent computation ------------------------------------------------------------

#: The array axis (of D, H, W) each plane cuts across, per orientation, written out by hand:
#: axial is across the S/I letter, coronal across A/P, sagittal across L/R.
AXES = {
    "SPL": {"axial": 0, "coronal": 1, "sagittal": 2},
    "PSL": {"axial": 1, "coronal": 0, "sagittal": 2},
}


def _slices(volumes: torch.Tensor, axis: int, stride: int = 1) -> np.ndarray:
    """Every (``stride``-th, from ``stride // 2``) slice across ``axis`` of every volume, by
    plain indexing: (N * S, h, w)."""
    v = volumes[:, 0].numpy()
    first = stride // 2 if stride > 1 else 0
    return np.stack(
        [
            np.take(v[n], i, axis=axis)
            for n in range(v.shape[0])
            for i in range(first, v.shape[1 + axis], stride)
        ]
    )


def _features(slices: np.ndarray) -> np.ndarray:
    lo, hi = WINDOW
    grey = np.round(255.0 * (np.clip(slices, lo, hi) - lo) / (hi - lo)).astype(np.uint8)
    rgb = torch.from_numpy(np.repeat(grey[:, None], 3, axis=1))
    return CellMeans({}, EncoderContext()).embed(rgb).double().numpy()


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return max(0.0, float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2.0 * covmean)))


def _reference(
    generated: torch.Tensor, real: torch.Tensor, orientation: str, stride: int = 1
) -> dict[str, float]:
    return {
        plane: _frechet(
            _features(_slices(real, axis, stride)), _features(_slices(generated, axis, stride))
        )
        for plane, axis in AXES[orientation].items()
    }


# ---- tests ----------------------------------------------------------------------------------


def test_registered_as_a_distribution_metric_of_volumes(registries: Registries) -> None:
    spec = registries.metrics.get("fd-planes")
    assert FDPlanes.spatial_dims == (3,)
    assert FDPlanes.needs is Needs.DISTRIBUTION and FDPlanes.higher_is_better is False
    defaults = {p.name: p.default for p in spec.params}
    assert defaults == {"encoder": "inception", "plane": "mean", "stride": 1}
    assert spec.load() is FDPlanes


@pytest.mark.parametrize("orientation", ["SPL", "PSL"])
def test_each_plane_equals_the_independent_computation(orientation: str) -> None:
    generated, real = _volumes(5, 1), _volumes(6, 2)
    details = _score(generated, real, _context(orientation)).report().details
    want = _reference(generated, real, orientation)
    for plane, value in want.items():
        assert details["planes"][plane]["fd"] == pytest.approx(value, rel=1e-7, abs=1e-10)
        axis = AXES[orientation][plane]
        assert details["planes"][plane]["real_slices"] == 6 * SHAPE[axis]
        assert details["planes"][plane]["generated_slices"] == 5 * SHAPE[axis]
    assert details["n_real"] == 6 and details["n_generated"] == 5
    assert details["encoder"] == "cell-means" and details["orientation"] == orientation


def test_the_value_is_the_mean_of_the_planes_unless_one_is_chosen() -> None:
    generated, real = _volumes(5, 3), _volumes(6, 4)
    mean = _score(generated, real, _context())
    planes = {p: v["fd"] for p, v in mean.report().details["planes"].items()}
    assert mean.compute() == pytest.approx(sum(planes.values()) / 3, rel=1e-12)
    sagittal = _score(generated, real, _context(), plane="sagittal")
    assert sagittal.compute() == pytest.approx(planes["sagittal"], rel=1e-12)
    assert "sagittal plane" in sagittal.convention and "mean over" in mean.convention


def test_swapping_the_orientation_letters_swaps_axial_and_coronal() -> None:
    # The same arrays: "SPL" calls axis 0 axial, "PSL" calls it coronal.
    generated, real = _volumes(5, 5), _volumes(6, 6)
    spl = _score(generated, real, _context("SPL")).report().details["planes"]
    psl = _score(generated, real, _context("PSL")).report().details["planes"]
    assert spl["axial"] == psl["coronal"] and spl["coronal"] == psl["axial"]
    assert spl["sagittal"] == psl["sagittal"] and spl["axial"]["fd"] != spl["coronal"]["fd"]


def test_noise_floor_is_the_value_between_seeded_halves_of_the_real_volumes() -> None:
    generated, real = _volumes(5, 7), _volumes(6, 8)
    floor = _score(generated, real, _context()).report().noise_floor
    order = torch.randperm(6, generator=torch.Generator().manual_seed(2020))
    first, second = real[order[:3]], real[order[3:6]]
    want = _reference(second, first, "SPL")  # the first half is the reference, as real is
    assert floor == pytest.approx(sum(want.values()) / 3, rel=1e-7)


def test_real_features_are_cached_per_plane(tmp_path: Path) -> None:
    generated, real = _volumes(4, 9), _volumes(4, 10)
    ctx = _context(cache_dir=tmp_path, dataset="d", dataset_fingerprint="f")
    first = _score(generated, real, ctx)
    second = _score(generated, real, ctx)
    for metric, expected in ((first, "miss"), (second, "hit")):
        planes = metric.report().details["planes"]
        assert {planes[p]["real_features_cache"] for p in planes} == {expected}
    assert first.compute() == second.compute() and len(list(tmp_path.glob("real-*.pt"))) == 3


def test_without_a_volume_geometry_it_refuses() -> None:
    metric = FDPlanes({"encoder": ENCODER.name}, MetricContext(encoders={ENCODER.name: ENCODER}))
    volumes = _volumes(2, 11)
    mask = torch.ones(2, 1, *SHAPE, dtype=torch.bool)
    with pytest.raises(UsageError, match="volume geometry"):
        metric.update(EvalBatch(volumes, volumes, mask, WINDOW, False, "b"))


def test_two_dimensional_images_are_refused() -> None:
    metric = FDPlanes({"encoder": ENCODER.name}, _context())
    images = _volumes(2, 12)[:, :, 0]
    with pytest.raises(DataError, match="volumes"):
        metric.update(EvalBatch(images, images, images > 0, WINDOW, False, "b"))


def test_volumes_of_another_size_are_refused() -> None:
    metric = FDPlanes({"encoder": ENCODER.name}, _context())
    volumes, other = _volumes(2, 13), _volumes(2, 14)[:, :, :, 1:]
    metric.update(EvalBatch(volumes, volumes, volumes > 0, WINDOW, False, "b"))
    with pytest.raises(DataError, match="one size"):
        metric.update(EvalBatch(other, other, other > 0, WINDOW, False, "b"))


def test_a_dataset_of_whole_patient_volumes_is_refused_when_it_is_built() -> None:
    whole = VolumeGeometry(size=SHAPE, spacing=None, orientation="SRA", whole_volumes=True)
    with pytest.raises(UsageError, match="whole volume"):
        FDPlanes(
            {"encoder": ENCODER.name}, MetricContext(encoders={ENCODER.name: ENCODER}, volume=whole)
        )


def test_a_stride_scores_every_kth_slice_from_the_centre_of_each_block() -> None:
    generated, real = _volumes(5, 11), _volumes(6, 12)
    metric = _score(generated, real, _context(), stride="3")
    details = metric.report().details
    for plane, value in _reference(generated, real, "SPL", stride=3).items():
        assert details["planes"][plane]["fd"] == pytest.approx(value, rel=1e-7, abs=1e-10)
    assert details["planes"]["axial"]["slices_per_volume"] == 2  # slices 1 and 4 of 6
    assert "one slice in 3 (the centre of each block)" in metric.convention
