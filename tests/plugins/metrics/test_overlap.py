"""Dice and HD95 of label maps (MONAI wrappers) against MedPy, a SciPy HD95 and hand-computed values.

How the references compare (found here, stated in ``plugins/metrics/overlap.py``): MONAI and
MedPy take the same surfaces (mask minus its erosion by the cross, image border as background)
and the same exact Euclidean distances between surface pixels: MedPy's directed distances,
reduced as MONAI reduces them, give our values. They differ in the reduction: MONAI takes the
larger of the two *directed* 95th percentiles, MedPy's ``hd95`` the 95th percentile of both
directions *pooled*. So MedPy's ``hd95`` equals ours only where the distances tie around the
percentile, and differs elsewhere by up to 0.6 px on the shapes below; that is a difference of
definition, so it has no tolerance. The SciPy implementation below follows MONAI's definition
with a distance transform and NumPy's percentile, and equals ours everywhere. Tolerances: Dice
1e-9 absolute (both float64); HD95 1e-6 relative (MONAI computes distances in float32).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from medganbench.errors import DataError
from medganbench_plugins.metrics.overlap import (
    EMPTY_PREDICTION_DICE,
    dice_per_class,
    hd95_per_class,
    worst_distance,
)

medpy_binary = pytest.importorskip("medpy.metric.binary")

DICE_TOL = 1e-9
# MONAI computes surface distances and their quantile in float32: a few ulps of a distance.
HD_REL = 1e-6


def _disc(size: int, cy: float, cx: float, radius: float) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((y - cy) ** 2 + (x - cx) ** 2 <= radius**2).long()


def _ball(size: int, centre: tuple[float, float, float], radius: float) -> torch.Tensor:
    z, y, x = torch.meshgrid(*(torch.arange(size),) * 3, indexing="ij")
    cz, cy, cx = centre
    return ((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2).long()


def _square(size: int, top: int, left: int, side: int) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.long)
    mask[top : top + side, left : left + side] = 1
    return mask


def _directed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances from each surface pixel of ``a`` to the nearest surface pixel of ``b``."""

    def surface(m: np.ndarray) -> np.ndarray:
        return m & ~ndimage.binary_erosion(m)  # the cross; outside the image is background

    return ndimage.distance_transform_edt(~surface(b))[surface(a)]


def _scipy_hd95(pred: torch.Tensor, ref: torch.Tensor) -> float:
    """MONAI's definition, independently: the larger of the two directed 95th percentiles."""
    p, r = pred.numpy().astype(bool), ref.numpy().astype(bool)
    return float(max(np.percentile(_directed(p, r), 95), np.percentile(_directed(r, p), 95)))


def _one(pred: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """Our (Dice, HD95) of class 1 for one binary 2-D or 3-D item."""
    return (
        float(dice_per_class(pred[None], ref[None], [1])[0, 0]),
        float(hd95_per_class(pred[None], ref[None], [1])[0, 0]),
    )


# Pairs whose surface distances tie around the 95th percentile in both directions: MedPy's pooled
# percentile equals MONAI's.
TIED = {
    "squares shifted 3 px": (_square(32, 5, 5, 10), _square(32, 5, 8, 10)),
    "discs shifted": (_disc(48, 20, 20, 9), _disc(48, 24, 27, 9)),
    "identical discs": (_disc(32, 15, 15, 7), _disc(32, 15, 15, 7)),
}
# Pairs where they do not: MedPy's value differs (pooling, and the interpolation position).
UNTIED = {
    "squares shifted diagonally": (_square(32, 4, 4, 12), _square(32, 9, 7, 12)),
    "small square in a large one's corner": (_square(32, 0, 0, 10), _square(32, 0, 0, 20)),
    "small disc inside a large one": (_disc(48, 22, 22, 5), _disc(48, 24, 24, 14)),
    "disc beside an elongated blob": (
        _disc(48, 20, 14, 6),
        ((_disc(48, 20, 20, 8) + _disc(48, 20, 34, 8)) > 0).long(),
    ),
}
BALLS = (_ball(20, (9, 9, 9), 5), _ball(20, (10, 11, 8), 6))


@pytest.mark.parametrize("name", [*TIED, *UNTIED])
def test_dice_equals_medpy(name: str) -> None:
    pred, ref = {**TIED, **UNTIED}[name]
    assert _one(pred, ref)[0] == pytest.approx(
        medpy_binary.dc(pred.numpy(), ref.numpy()), abs=DICE_TOL
    )


@pytest.mark.parametrize("name", list(TIED))
def test_hd95_equals_medpy_where_distances_tie_at_the_percentile(name: str) -> None:
    pred, ref = TIED[name]
    expected = medpy_binary.hd95(pred.numpy(), ref.numpy())
    assert _one(pred, ref)[1] == pytest.approx(expected, rel=HD_REL, abs=1e-9)


@pytest.mark.parametrize("name", [*TIED, *UNTIED, "3-D balls"])
def test_hd95_equals_medpys_surface_distances_reduced_as_monai_does(name: str) -> None:
    # MedPy's own directed surface distances (its private helper: the public hd95 pools them),
    # each direction's 95th percentile, the larger one: the surfaces and distances are the same.
    pred, ref = {**TIED, **UNTIED, "3-D balls": BALLS}[name]
    surface_distances = getattr(medpy_binary, "__surface_distances")
    p, r = pred.numpy(), ref.numpy()
    expected = max(
        np.percentile(surface_distances(p, r), 95), np.percentile(surface_distances(r, p), 95)
    )
    assert _one(pred, ref)[1] == pytest.approx(expected, rel=HD_REL, abs=1e-9)


def test_hd95_is_above_medpys_pooled_percentile_for_a_small_mask_in_a_large_one() -> None:
    # A 10 × 10 square in the corner of a 20 × 20 one: the large square's far surface is up to
    # 10·√2 from the small one's, the small one's surface at most 10 from the large one's.
    # MONAI keeps the far direction's percentile (12.81); MedPy pools in the near one (12.21).
    pred, ref = UNTIED["small square in a large one's corner"]
    ours, medpy = _one(pred, ref)[1], medpy_binary.hd95(pred.numpy(), ref.numpy())
    assert ours == pytest.approx(math.sqrt(164), rel=HD_REL)  # an offset of (10, 8) px
    assert ours - medpy == pytest.approx(0.6, abs=0.01)


@pytest.mark.parametrize("name", [*TIED, *UNTIED])
def test_hd95_equals_the_scipy_implementation_of_monais_definition(name: str) -> None:
    pred, ref = {**TIED, **UNTIED}[name]
    assert _one(pred, ref)[1] == pytest.approx(_scipy_hd95(pred, ref), rel=HD_REL, abs=1e-9)


def test_3d_blob_dice_equals_medpy() -> None:
    pred, ref = BALLS
    assert _one(pred, ref)[0] == pytest.approx(
        medpy_binary.dc(pred.numpy(), ref.numpy()), abs=DICE_TOL
    )


def test_3d_blob_hd95_equals_the_scipy_implementation() -> None:
    pred, ref = BALLS
    assert _one(pred, ref)[1] == pytest.approx(_scipy_hd95(pred, ref), rel=HD_REL)


def test_masks_touching_the_border_have_their_border_pixels_on_the_surface() -> None:
    # The whole image against its left half: the full mask's surface is the image's border ring
    # (outside counts as background), as in MedPy and the SciPy implementation.
    ref, pred = torch.ones(16, 16, dtype=torch.long), torch.zeros(16, 16, dtype=torch.long)
    pred[:, :8] = 1
    ours = _one(pred, ref)[1]
    assert ours == pytest.approx(_scipy_hd95(pred, ref), rel=HD_REL)
    assert ours == pytest.approx(8.0, rel=HD_REL)  # the ring's right column to the half's edge


def test_golden_squares_shifted_by_3_px() -> None:
    # Two 10 × 10 squares, 3 px apart horizontally: overlap 7 × 10, Dice 2·70 / 200 = 0.7. Of
    # the 36 surface pixels of either square, 14 are 3 px from the other's surface (its leading
    # column, the two leading corners and the middle four of its trailing column); the 95th
    # percentile (position 0.95 · 35 = 33.25 of 0..35) falls among them: 3.
    dice, hd = _one(_square(32, 5, 5, 10), _square(32, 5, 8, 10))
    assert dice == pytest.approx(0.7, abs=DICE_TOL)
    assert hd == pytest.approx(3.0, rel=HD_REL)


def test_golden_single_pixels_3_4_5_apart() -> None:
    pred, ref = torch.zeros(16, 16, dtype=torch.long), torch.zeros(16, 16, dtype=torch.long)
    pred[2, 2], ref[5, 6] = 1, 1
    dice, hd = _one(pred, ref)
    assert dice == 0.0
    assert hd == pytest.approx(5.0, rel=HD_REL)


def test_golden_one_stray_pixel_moves_hd95_not_at_all() -> None:
    # The square plus one pixel 10 px away: 1 of 37 surface pixels, above the 95th percentile.
    ref = _square(32, 5, 5, 10)
    pred = ref.clone()
    pred[25, 25] = 1
    assert _one(pred, ref)[1] == pytest.approx(0.0, abs=1e-9)


def test_golden_identical_masks() -> None:
    disc = _disc(32, 16, 16, 8)
    assert _one(disc, disc) == (1.0, 0.0)


def test_empty_prediction_gives_dice_0_and_the_grids_diagonal() -> None:
    ref = _disc(32, 16, 16, 8)[None]
    empty = torch.zeros_like(ref)
    assert float(dice_per_class(empty, ref, [1])[0, 0]) == EMPTY_PREDICTION_DICE == 0.0
    assert float(hd95_per_class(empty, ref, [1])[0, 0]) == pytest.approx(31 * math.sqrt(2))


def test_empty_prediction_of_a_volume_gives_the_volumes_diagonal() -> None:
    ref = _ball(20, (9, 9, 9), 5)[None, :8]
    hd = float(hd95_per_class(torch.zeros_like(ref), ref, [1])[0, 0])
    assert hd == pytest.approx(math.sqrt(7**2 + 19**2 + 19**2)) == worst_distance((8, 20, 20))


def test_worst_distance_is_above_any_hd95_on_the_grid() -> None:
    # Opposite corners: the largest HD95 two non-empty masks can have equals the diagonal.
    pred, ref = torch.zeros(1, 32, 32, dtype=torch.long), torch.zeros(1, 32, 32, dtype=torch.long)
    pred[0, 0, 0], ref[0, 31, 31] = 1, 1
    assert float(hd95_per_class(pred, ref, [1])[0, 0]) == pytest.approx(worst_distance((32, 32)))


@pytest.mark.parametrize("metric", [dice_per_class, hd95_per_class])
def test_a_class_absent_from_the_reference_is_nan_whatever_the_prediction(metric) -> None:
    ref = torch.zeros(2, 16, 16, dtype=torch.long)
    pred = torch.zeros_like(ref)
    pred[0, 4:8, 4:8] = 1  # item 0 predicts the class, item 1 does not
    assert metric(pred, ref, [1]).isnan().all()


@pytest.mark.parametrize("metric", [dice_per_class, hd95_per_class])
def test_values_are_per_item_and_class_in_the_order_given(metric) -> None:
    a, b = _square(32, 5, 5, 10), _square(32, 5, 8, 10)
    c, d = _disc(32, 16, 16, 8), _disc(32, 14, 17, 6)
    pred = torch.stack([a + 2 * c * (1 - a), d * 2])  # item 0: class 1 and 2, item 1: class 2
    ref = torch.stack([b + 2 * c * (1 - b), c * 2])
    out = metric(pred, ref, [2, 1, 3])
    assert out.shape == (2, 3) and out.dtype == torch.float64
    for i in range(2):
        for k, cls in enumerate([2, 1, 3]):
            alone = metric(pred[i : i + 1], ref[i : i + 1], [cls])[0, 0]
            assert torch.equal(out[i, k], alone) or (out[i, k].isnan() and alone.isnan())
    assert out[1, 1].isnan() and out[:, 2].isnan().all()  # class 1 absent from item 1, 3 never


def test_dice_of_one_class_is_float64_like_several() -> None:
    # MONAI reads a one-channel input as a label map; the wrapper still returns float64 values
    # equal to the multi-class ones.
    pred = torch.stack([_square(32, 5, 5, 10), _square(32, 6, 6, 9)])
    ref = torch.stack([_square(32, 5, 8, 10), _square(32, 6, 6, 9)])
    alone = dice_per_class(pred, ref, [1])
    assert alone.dtype == torch.float64
    assert torch.equal(alone[:, 0], dice_per_class(pred, ref, [0, 1])[:, 1])


def test_random_blobs_match_the_references() -> None:
    # Smoothed noise thresholded into irregular, multi-component masks, both directions.
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(6, 1, 40, 40, generator=gen)
    smooth = torch.nn.functional.avg_pool2d(noise, 7, 1, 3)[:, 0]
    pred, ref = (smooth[:3] > 0.1).long(), (smooth[3:] > 0.1).long()
    dice, hd = dice_per_class(pred, ref, [1]), hd95_per_class(pred, ref, [1])
    for i in range(3):
        p, r = pred[i].numpy(), ref[i].numpy()
        assert float(dice[i, 0]) == pytest.approx(medpy_binary.dc(p, r), abs=DICE_TOL)
        assert float(hd[i, 0]) == pytest.approx(_scipy_hd95(pred[i], ref[i]), rel=HD_REL)
        assert float(hd[i, 0]) >= medpy_binary.hd95(p, r) - 1e-5


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(DataError, match="differ in shape"):
        dice_per_class(torch.zeros(1, 8, 8, dtype=torch.long), torch.zeros(1, 8, 9).long(), [1])


@pytest.mark.parametrize("shape", [(1, 1, 1, 8, 8), (8, 8)])
def test_label_maps_without_an_item_axis_or_of_five_axes_are_refused(shape) -> None:
    labels = torch.zeros(shape, dtype=torch.long)
    with pytest.raises(DataError, match=r"\(N, H, W\) slices"):
        hd95_per_class(labels, labels, [1])


@pytest.mark.parametrize("metric", [dice_per_class, hd95_per_class])
def test_a_single_slice_axis_is_scored_as_the_slices(metric) -> None:
    # (N, 1, H, W): label maps as datasets deliver them, or one-slice patients. In 3-D every
    # pixel of a one-voxel-thick slab would be a surface pixel; scored in-plane, they equal the
    # slices' values.
    pred = torch.stack([_disc(32, 15, 15, 7), _square(32, 5, 5, 10)])
    ref = torch.stack([_disc(32, 17, 14, 8), _square(32, 5, 8, 10)])
    assert torch.equal(metric(pred[:, None], ref[:, None], [1]), metric(pred, ref, [1]))


def test_float_labels_are_refused() -> None:
    with pytest.raises(DataError, match="integer labels"):
        dice_per_class(torch.zeros(1, 8, 8), torch.zeros(1, 8, 8), [1])


def test_repeated_classes_are_refused() -> None:
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(DataError, match="distinct"):
        dice_per_class(labels, labels, [1, 1])
