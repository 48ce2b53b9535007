"""The contract of datasets whose slices come from patient volumes, and of metrics that score a
whole volume.

A dataset says its slices come from volumes by giving, per split and domain, its volume ids
(:meth:`VolumeSource.volume_ids`: one key per patient, never a patient identifier from a file
header) and, in every item, two int64 scalars per domain: the index of the item's volume in
that list and the slice's position along the slice axis. Items of a paired dataset, whose two
domains are one patient's slice, carry them once under the shared keys :data:`VOLUME_KEY` and
:data:`SLICE_KEY`; items of an unpaired or single-domain dataset carry each domain's under its
own keys, :func:`volume_key` and :func:`slice_key` (``"volume_a"``, ``"slice_a"``,
``"volume_b"``, ``"slice_b"``), and a reader looks for those first (:func:`item_position`).

A direction is evaluated per patient when its comparison is pixel-paired (a translation on
paired data, or any round trip, compared with its own input) and the dataset gives volume ids
of the compared domain (the end of a translation, the start of a round trip: ``a2b2a`` is
compared with A, per A patient). The runner puts each patient's translated slices back together
in slice order and asks every metric that can (:class:`VolumeScoring`) for one value per
patient, in 3-D inside the mask; the row's value is the mean over patients.

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

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from medganbench.core.dataset import DomainKey

#: Sample keys of a paired volume-backed item: both domains are this volume's this slice.
VOLUME_KEY = "volume"
SLICE_KEY = "slice"


def volume_key(domain: DomainKey) -> str:
    """``"volume_a"`` / ``"volume_b"``: the sample key of one domain's volume index."""
    return f"{VOLUME_KEY}_{domain}"


def slice_key(domain: DomainKey) -> str:
    """``"slice_a"`` / ``"slice_b"``: the sample key of one domain's slice index."""
    return f"{SLICE_KEY}_{domain}"


@runtime_checkable
class VolumeSource(Protocol):
    """A dataset whose items say which volume and slice each domain's image comes from."""

    def volume_ids(self, split: str, domain: DomainKey = "b") -> list[str]:
        """The volume (patient) keys of ``domain``'s items in ``split``, in the order the items'
        volume indices refer to; empty when they carry no volume. A paired dataset gives the
        same list for both domains."""
        ...


def split_volume_ids(
    dataset: VolumeSource, split: str, domain: DomainKey, *, paired: bool
) -> list[str]:
    """``dataset.volume_ids(split, domain)``, also for a dataset written before the ``domain``
    parameter (detected from the method's signature): its ``volume_ids(split)`` is called with
    one argument and, since its ids can only be the shared ones, used for a paired dataset only
    (``paired``; else ``[]``)."""
    method: Any = dataset.volume_ids
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # no signature to read (a builtin): the current contract
        return list(method(split, domain))
    for args, kwargs in (((split, domain), {}), ((split,), {"domain": domain})):
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            continue
        return list(method(*args, **kwargs))
    return list(method(split)) if paired else []


def item_position(
    sample: Mapping[str, Any], domain: DomainKey
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (volume, slice) indices of ``domain``'s image in a sample or a batch: its own keys
    (:func:`volume_key`, :func:`slice_key`) where it has them, else the shared
    :data:`VOLUME_KEY` and :data:`SLICE_KEY`; ``None`` when it has neither pair."""
    for volume, index in ((volume_key(domain), slice_key(domain)), (VOLUME_KEY, SLICE_KEY)):
        if volume in sample and index in sample:
            return sample[volume], sample[index]
    return None


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


@runtime_checkable
class LabelVolumeScoring(Protocol):
    """A label metric (:data:`~medganbench.core.metric.Needs.LABELS`) that can score one whole
    patient: its translated slices against the label maps of the anatomy they show."""

    def score_label_volume(
        self,
        pred: torch.Tensor,
        labels: torch.Tensor,
        *,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """Score one patient.

        Args:
            pred: (C, D, H, W) the translated slices in slice order, physical units.
            labels: int64 (1, D, H, W) the label maps of the anatomy they show.
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
        (an index into :meth:`VolumeSource.volume_ids` of ``split`` and ``key``) on the native
        grid.

        The native in-plane size is (h, w); the delivered slice was that plane padded to a
        centred ``max(h, w)`` square and resized to ``--image-size``.
        """
        ...
