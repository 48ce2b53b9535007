"""Dice and HD95 of integer label maps, per item and per class: thin wrappers on MONAI.

Inputs are two int64 label maps of the same shape, ``(N, H, W)`` (N 2-D slices) or
``(N, D, H, W)`` (N 3-D volumes), and the class indices to score; each function returns a float64
tensor ``(N, len(classes))``: one value per item and class. The values are MONAI's
(``monai.metrics.compute_dice`` and ``compute_hausdorff_distance(percentile=95)``, on one-hot
masks built here, on the CPU), except for the cases the convention below fixes where MONAI would
return NaN or infinity. ``(N, 1, H, W)`` (2-D label maps with their channel axis, or one-slice
volumes) is scored as the ``(N, H, W)`` slices: in 3-D, every pixel of a one-voxel-thick slab
would lie on its surface, and a one-slice patient would not score as its slice does. Not a plugin
module: it registers nothing.

The convention (the constants below say it in words a metric can quote):

- **Absent class.** A class absent from an item's *reference* gives NaN for that item and class,
  whatever the prediction holds: the item does not count for that class (average with
  ``nanmean``). Both functions agree on this. (MONAI's Dice does the same with its default
  ``ignore_empty=True``; its HD95 would give NaN or infinity and warn, so it is not called.)
- **Empty prediction.** Reference present, prediction empty: Dice 0 (MONAI's own value:
  ``2·0 / (|ref| + 0)``) and HD95 = the *diagonal* of the item's grid,
  ``sqrt(sum((s - 1)²))`` over its spatial sizes ``s``: the largest distance between two pixel
  (voxel) centres of that grid, so an empty prediction never scores better than any non-empty
  one (MONAI would give infinity). For a 64 × 64 slice that is 63·√2 ≈ 89.1.
- **Units.** HD95 is in pixels (voxels) of the evaluated grid: spacing 1 along every axis, 3-D
  volumes included. A caller who wants millimetres multiplies by an isotropic spacing; an
  anisotropic one needs other code (the distances themselves change).

What MONAI 1.6 computes for HD95, read from ``monai/metrics/hausdorff_distance.py`` and
``utils.py`` and checked against MedPy and a SciPy implementation in
``tests/plugins/metrics/test_overlap.py``:

- **Surfaces.** A mask's surface is the mask minus its binary erosion with SciPy's default
  structuring element (the cross: 4-connectivity in 2-D, 6 in 3-D), the outside of the image
  counting as background; so a mask touching the border has its border pixels on its surface.
  MedPy's ``hd95`` (``connectivity=1``) uses the same surfaces.
- **Distances.** Exact Euclidean distance from each surface pixel of one mask to the nearest
  surface pixel of the other (a KD-tree over the surface coordinates), in float32.
- **Percentile.** ``directed=False`` (used here) computes both directed distance sets and
  returns the **larger of their two 95th percentiles** (``torch.quantile``, linear
  interpolation). MedPy's ``hd95`` instead takes the 95th percentile of the two sets *pooled*.
  The two agree where the distances tie around the 95th percentile (two squares 3 px apart);
  otherwise they differ by the pooling (a small mask in a corner of a large one: MONAI 12.81 px,
  MedPy 12.21 px, since MedPy mixes in the near direction) or just by where the interpolation
  falls (two squares shifted diagonally: 5.084 against 5.099 px). Reduced as MONAI does, MedPy's
  own directed distances give MONAI's value.

Dice is ``2|P ∩ R| / (|P| + |R|)``, computed here in float64 (MONAI keeps the one-hot's dtype),
so it equals MedPy's ``dc`` to rounding. HD95 carries MONAI's float32 (within 1e-6 relative).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch

from medganbench.errors import DataError

__all__ = [
    "ABSENT_REFERENCE",
    "EMPTY_PREDICTION",
    "EMPTY_PREDICTION_DICE",
    "HD95_DEFINITION",
    "HD95_UNITS",
    "dice_per_class",
    "hd95_per_class",
    "worst_distance",
]

#: What an item whose reference lacks a class contributes to that class.
ABSENT_REFERENCE = "NaN: an item whose reference lacks the class does not count for that class"
#: What an empty prediction scores where the reference has the class.
EMPTY_PREDICTION = (
    "Dice 0; HD95 the grid's diagonal sqrt(sum((size - 1)^2)), the largest distance between two "
    "pixel centres of the item"
)
#: Dice of an empty prediction where the reference has the class.
EMPTY_PREDICTION_DICE = 0.0
#: How HD95 is defined (MONAI's compute_hausdorff_distance, percentile=95, directed=False).
HD95_DEFINITION = (
    "max of the two directed 95th percentiles (linear interpolation) of the Euclidean distances "
    "between the masks' surface pixels (mask minus its erosion by the 4-/6-connected cross); "
    "MONAI compute_hausdorff_distance(percentile=95, directed=False)"
)
#: The unit of HD95.
HD95_UNITS = "pixels of the evaluated grid (spacing 1 along every axis)"


def worst_distance(spatial_shape: Sequence[int]) -> float:
    """The diagonal of a grid: the largest distance between two of its pixel (voxel) centres.

    ``sqrt(sum((s - 1)²))``: 63·√2 for a 64 × 64 slice. The HD95 of an empty prediction.
    """
    return math.sqrt(sum((int(s) - 1) ** 2 for s in spatial_shape))


def _check(pred: torch.Tensor, ref: torch.Tensor, classes: Sequence[int], metric: str) -> list[int]:
    """Validate the two label maps and the classes; return the classes as a list of ints."""
    if pred.shape != ref.shape:
        raise DataError(
            f"{metric}: prediction and reference label maps differ in shape: "
            f"{tuple(pred.shape)} vs {tuple(ref.shape)}."
        )
    if pred.dim() not in (3, 4) or pred.numel() == 0:
        raise DataError(
            f"{metric}: label maps must be non-empty (N, H, W) slices or (N, D, H, W) volumes, "
            f"got shape {tuple(pred.shape)}."
        )
    for label, tensor in (("prediction", pred), ("reference", ref)):
        if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
            raise DataError(f"{metric}: the {label} must hold integer labels, got {tensor.dtype}.")
    wanted = [int(c) for c in classes]
    if not wanted or len(set(wanted)) != len(wanted):
        raise DataError(f"{metric}: classes must be distinct and at least one, got {classes!r}.")
    return wanted


def _as_items(labels: torch.Tensor) -> torch.Tensor:
    """On the CPU; (N, 1, H, W) → (N, H, W): a single slice is scored in-plane (see above)."""
    labels = labels.cpu()
    return labels[:, 0] if labels.dim() == 4 and labels.shape[1] == 1 else labels


def _one_hot(labels: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """(N, *spatial) labels → (N, K, *spatial) float64 masks, one channel per class."""
    return torch.stack([labels == c for c in classes], dim=1).to(torch.float64)


def dice_per_class(pred: torch.Tensor, ref: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """Dice of each item and class (MONAI's ``compute_dice``), with the module's convention.

    Args:
        pred: predicted int64 label map, (N, H, W) or (N, D, H, W); (N, 1, H, W) counts as
            (N, H, W).
        ref: reference label map, the same shape.
        classes: the class indices to score (distinct).

    Returns:
        float64 (N, len(classes)) on the CPU: NaN where the reference lacks the class, 0 where
        only the prediction is empty, else ``2|P ∩ R| / (|P| + |R|)``.

    Raises:
        DataError: shapes differ or are not 3-/4-D, labels are not integers, bad classes.
    """
    # Imported here, not at the top: importing MONAI takes seconds, which listing or loading
    # the plugins must not pay. From the defining module: monai.metrics re-exports implicitly,
    # which strict mypy refuses.
    from monai.metrics.meandice import compute_dice

    wanted = _check(pred, ref, classes, "dice")
    # MONAI takes a one-channel input for a label map and compares it with 1, which would give
    # float32; with the class twice every input is a float64 one-hot.
    channels = wanted * 2 if len(wanted) == 1 else wanted
    p, r = _one_hot(_as_items(pred), channels), _one_hot(_as_items(ref), channels)
    dice = compute_dice(p, r, include_background=True, ignore_empty=True)
    return dice[:, : len(wanted)].to(torch.float64)


def hd95_per_class(pred: torch.Tensor, ref: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """HD95 of each item and class in pixels (MONAI's, undirected), with the module's convention.

    Args:
        pred: predicted int64 label map, (N, H, W) or (N, D, H, W); (N, 1, H, W) counts as
            (N, H, W).
        ref: reference label map, the same shape.
        classes: the class indices to score (distinct).

    Returns:
        float64 (N, len(classes)) on the CPU: NaN where the reference lacks the class,
        :func:`worst_distance` of the grid where only the prediction is empty, else the larger of
        the two directed 95th percentiles of the surface distances (see the module docstring).

    Raises:
        DataError: shapes differ or are not 3-/4-D, labels are not integers, bad classes.
    """
    from monai.metrics.hausdorff_distance import compute_hausdorff_distance  # see dice_per_class

    wanted = _check(pred, ref, classes, "hd95")
    pred, ref = _as_items(pred), _as_items(ref)
    out = torch.full((pred.shape[0], len(wanted)), math.nan, dtype=torch.float64)
    for k, c in enumerate(wanted):
        in_ref = (ref == c).flatten(1).any(1)
        in_pred = (pred == c).flatten(1).any(1)
        out[in_ref & ~in_pred, k] = worst_distance(pred.shape[1:])
        both = in_ref & in_pred
        if bool(both.any()):
            # Only items where both masks hold the class reach MONAI: the others are fixed by the
            # convention above (MONAI would warn and give NaN or infinity).
            p, r = _one_hot(pred[both], [c]), _one_hot(ref[both], [c])
            with warnings.catch_warnings():
                # MONAI 1.5+ passes its own deprecated argument to itself (get_mask_edges's
                # always_return_as_numpy) and warns about it on every call.
                warnings.filterwarnings("ignore", ".*always_return_as_numpy", FutureWarning)
                hd = compute_hausdorff_distance(
                    p, r, include_background=True, percentile=95, directed=False
                )
            out[both, k] = hd[:, 0].to(torch.float64)
    return out
