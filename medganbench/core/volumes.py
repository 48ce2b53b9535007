"""The contract of datasets whose slices come from patient volumes, and of metrics that score a
whole volume.

A dataset says its slices come from volumes by giving, per split, its volume ids
(:meth:`VolumeSource.volume_ids`: one key per patient, never a patient identifier from a file
header) and, in every item of a paired split, two int64 scalars: :data:`VOLUME_KEY` (the index
of the item's volume in that list) and :data:`SLICE_KEY` (the slice's position along the slice
axis). The runner then puts each patient's translated slices back together in slice order and
asks every metric that can (:class:`VolumeScoring`) for one value per patient, in 3-D inside the
mask; the row's value is the mean over patients.

Volume rows are written *beside* the slice rows of the same metric, with the same
``metric_args`` (the metric's own arguments): the leaderboard's ``eval_unit`` column says
``"volume"`` where the slice rows say ``"slice"``, which keeps the two apart in ranking and
merging.

Volumes are scored on the run's ``--image-size`` grid (``eval_grid`` column ``"image_size"``).
A run asked for ``--eval-grid native`` on a dataset that can give each patient's target on its
native grid (:class:`NativeSource`) gets a second set of volume rows, ``eval_grid`` column
``"native"``: the translated slices resized back to the native in-plane size and scored against
the native target and mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

#: Sample keys of a volume-backed item.
VOLUME_KEY = "volume"
SLICE_KEY = "slice"


@runtime_checkable
class VolumeSource(Protocol):
    """A dataset whose paired items carry :data:`VOLUME_KEY` and :data:`SLICE_KEY`."""

    def volume_ids(self, split: str) -> list[str]:
        """The volume (patient) keys of ``split``; empty when its items carry no volume."""
        ...


@runtime_checkable
class VolumeScoring(Protocol):
    """A paired metric that can score one whole volume."""

    def score_volume(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """Score one patient.

        Args:
            pred: (C, D, H, W) the translated slices in slice order, physical units.
            target: (C, D, H, W) the real slices.
            window: the target domain's (low, high).
            mask: bool (1, D, H, W) body mask.
        """
        ...


@dataclass(frozen=True)
class NativeSlices:
    """Some slices of one patient's volume on its native grid (no padding, no resizing).

    Attributes:
        target: (C, D, h, w) the target domain's slices in delivered units, in the order asked.
        mask: bool (1, D, h, w) the body mask of those slices.
    """

    target: torch.Tensor
    mask: torch.Tensor


@runtime_checkable
class NativeSource(Protocol):
    """A volume dataset that can give its patients' slices on the native grid.

    The runner asks for them only when the run asked for native-grid evaluation
    (``--eval-grid native``); a run that asks for it on another dataset is refused before it
    trains.
    """

    def native_slices(
        self, split: str, volume: int, key: str, slices: Sequence[int]
    ) -> NativeSlices:
        """Domain ``key``'s slices ``slices`` (indices along the slice axis) of volume ``volume``
        (an index into :meth:`VolumeSource.volume_ids` of ``split``) on the native grid.

        The native in-plane size is (h, w); the delivered slice was that plane padded to a
        centred ``max(h, w)`` square and resized to ``--image-size``.
        """
        ...
