"""The geometry of a volume task: what a 3-D dataset's items are and how to cut them in planes.

A dataset whose items are volumes (:attr:`~medganbench.core.dataset.DatasetInfo.volume`)
declares a :class:`VolumeGeometry`: every item's images are ``(C, D, H, W)`` tensors of
``size`` voxels, ``spacing`` millimetres apart along each array axis, the array axes pointing
as ``orientation`` says. The orientation is what lets a 3-D metric or a sample grid name its
planes: the **axial** plane is perpendicular to the superior–inferior axis, the **coronal** plane
to the anterior–posterior axis, the **sagittal** plane to the left–right axis, whichever array
axis each of those is.

Nothing here depends on a dataset or a model: metrics, models and the runner import it alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "PLANES",
    "PLANE_AXES",
    "VolumeGeometry",
    "display_slice",
    "mid_slices",
    "plane_slices",
    "window_starts",
]

#: The three orthogonal planes, in the order grids and metric details list them.
PLANES: tuple[str, ...] = ("axial", "coronal", "sagittal")

#: The anatomical axis each plane is perpendicular to, as the two letters naming its ends.
PLANE_AXES: dict[str, str] = {"axial": "SI", "coronal": "AP", "sagittal": "LR"}

#: How a plane is shown (radiological convention): the anatomical axis of its rows and of its
#: columns, each as the letter at the top / on the viewer's left first.
DISPLAY_AXES: dict[str, tuple[str, str]] = {
    "axial": ("AP", "RL"),  # anterior at the top, the patient's right on the viewer's left
    "coronal": ("SI", "RL"),
    "sagittal": ("SI", "AP"),  # anterior on the viewer's left
}


@dataclass(frozen=True)
class VolumeGeometry:
    """What every item of a volume dataset is.

    Attributes:
        size: voxels along the array axes (D, H, W) of an item's images.
        spacing: millimetres between voxel centres along (D, H, W), after any resampling the
            dataset does; ``None`` where it differs from patient to patient (a dataset of
            files that keeps each patient's own grid says so in its docs).
        orientation: three letters, one per array axis (D, H, W), each the anatomical
            direction that axis's index increases toward: ``R``/``L``, ``A``/``P``,
            ``S``/``I`` (nibabel's axis codes). ``"SPL"``: D runs inferior → superior, H
            anterior → posterior, W right → left (an axial slice shown as radiologists view it).
            Plane names need only which array axis lies on which anatomical axis; a dataset
            that cannot know the signs gives nominal ones and says so.
        crop: how an item was cut from its source volume, in words (e.g. ``"whole head
            resampled"`` or ``"random 32³ crop"``); shown by ``medganbench list datasets``.
    """

    size: tuple[int, int, int]
    spacing: tuple[float, float, float] | None
    orientation: str
    crop: str = "whole volume"
    whole_volumes: bool = False

    def __post_init__(self) -> None:
        # A wrong geometry makes every plane-wise number wrong, so it fails where it is made.
        if len(self.size) != 3 or any(int(s) < 1 for s in self.size):
            raise ValueError(f"VolumeGeometry.size must be three positive ints, got {self.size}")
        if self.spacing is not None and (
            len(self.spacing) != 3 or any(not float(s) > 0 for s in self.spacing)
        ):
            raise ValueError(
                f"VolumeGeometry.spacing must be three positive mm values, got {self.spacing}"
            )
        letters = self.orientation.upper()
        axes = sorted(pair for c in letters for pair in PLANE_AXES.values() if c in pair)
        if len(letters) != 3 or axes != sorted(PLANE_AXES.values()):
            raise ValueError(
                f"VolumeGeometry.orientation must name one of R/L, A/P, S/I per axis, got "
                f"{self.orientation!r}"
            )

    def plane_axis(self, plane: str) -> int:
        """The array axis (0 = D, 1 = H, 2 = W) a ``plane`` slice is taken across: the axis
        whose orientation letter is on the anatomical axis the plane is perpendicular to.

        Raises:
            KeyError: ``plane`` is not one of :data:`PLANES`.
        """
        ends = PLANE_AXES[plane]
        return next(i for i, c in enumerate(self.orientation.upper()) if c in ends)


def window_starts(length: int, window: int) -> list[int]:
    """Where windows of ``window`` along an axis of ``length`` start, half a window apart: every
    ``window // 2`` from 0, plus one ending exactly at ``length`` if the last did not (``[0]``
    when ``length <= window``). The training crops of a volume dataset and the windows of
    whole-volume translation both follow it, so every slice is in at least one of them."""
    if length <= window:
        return [0]
    step = max(1, window // 2)
    starts = list(range(0, length - window + 1, step))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def plane_slices(volumes: torch.Tensor, geometry: VolumeGeometry, plane: str) -> torch.Tensor:
    """Every ``plane`` slice of every volume, as a batch of 2-D images.

    Args:
        volumes: ``(N, C, D, H, W)``.
        geometry: the volumes' geometry (which array axis is which plane's).
        plane: one of :data:`PLANES`.

    Returns:
        ``(N * S, C, h, w)``: volume 0's S slices in index order, then volume 1's, ...; ``h, w``
        the two remaining axes in array order.
    """
    if volumes.dim() != 5:
        raise ValueError(f"plane_slices takes (N, C, D, H, W), got {tuple(volumes.shape)}")
    axis = 2 + geometry.plane_axis(plane)
    moved = volumes.movedim(axis, 1)  # (N, S, C, h, w)
    return moved.reshape(-1, *moved.shape[2:])


def display_slice(
    volume: torch.Tensor, geometry: VolumeGeometry, plane: str, index: int
) -> torch.Tensor:
    """Slice ``index`` of ``plane`` of one ``(C, D, H, W)`` volume, ``(C, rows, columns)``
    turned for display as radiologists view it (:data:`DISPLAY_AXES`): axial with anterior at
    the top and the patient's right on the viewer's left, coronal and sagittal with superior at
    the top (sagittal: anterior on the left), whatever the array's orientation."""
    letters = geometry.orientation.upper()
    image = volume.select(1 + geometry.plane_axis(plane), index)  # (C, a, b): the other two axes
    rest = [c for i, c in enumerate(letters) if i != geometry.plane_axis(plane)]
    rows, columns = DISPLAY_AXES[plane]
    if rest[0] not in rows:  # the array's first remaining axis runs along the columns
        image, rest = image.transpose(1, 2), rest[::-1]
    # Flip an axis whose index runs toward the end shown first (top / the viewer's left).
    flips = [
        d for d, (c, ends) in enumerate(zip(rest, (rows, columns), strict=True), 1) if c == ends[0]
    ]
    return image.flip(flips) if flips else image


def mid_slices(volume: torch.Tensor, geometry: VolumeGeometry) -> dict[str, torch.Tensor]:
    """The middle slice of one ``(C, D, H, W)`` volume in each plane, ``plane → (C, h, w)``
    (index ``S // 2`` across the plane's axis), in :data:`PLANES` order."""
    if volume.dim() != 4:
        raise ValueError(f"mid_slices takes (C, D, H, W), got {tuple(volume.shape)}")
    out: dict[str, torch.Tensor] = {}
    for plane in PLANES:
        axis = 1 + geometry.plane_axis(plane)
        out[plane] = volume.select(axis, volume.shape[axis] // 2)
    return out
