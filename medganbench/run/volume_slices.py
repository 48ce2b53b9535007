"""A volume batch seen as its axial slices: how paired and label metrics score 3-D outputs.

On a volume dataset the model translates whole volumes, and the metrics of 3-D data
(``spatial_dims`` 3: the distribution metrics of volumes) see them whole. The pixel-wise
metrics are the ones every 2-D model is scored with: they see the output volumes as their axial
slices (the plane named by the dataset's declared orientation), so a 3-D translator's slice rows
read like a 2-D translator's, and the per-patient rows (:mod:`medganbench.run.volumes`) put the
very slices back into each patient's volume and score it in 3-D, as they do for a 2-D model's
slices. One definition of a patient's score, whichever model made the volume.

A volume item's position keys (:func:`~medganbench.core.volumes.item_position`) say which
patient it is and, under the slice key, the index of its first axial slice in that patient's
volume (0 for a whole volume).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from medganbench.core.dataset import DomainKey
from medganbench.core.geometry import VolumeGeometry, plane_slices
from medganbench.core.metric import EvalBatch
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY, item_position

__all__ = [
    "SLICE_PLANE",
    "as_slices",
    "axial_depth",
    "has_body",
    "slice_positions",
    "with_body",
]

#: The plane whose slices the pixel-wise metrics score.
SLICE_PLANE = "axial"


def _each_tensor(batch: EvalBatch, change: Callable[[torch.Tensor], torch.Tensor]) -> EvalBatch:
    """``batch`` with ``change`` applied to its images, mask and label maps (window, pairing
    and domain unchanged)."""

    def changed(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else change(x)

    return dataclasses.replace(
        batch,
        pred=change(batch.pred),
        target=change(batch.target),
        mask=change(batch.mask),
        labels=changed(batch.labels),
        target_labels=changed(batch.target_labels),
    )


def as_slices(batch: EvalBatch, geometry: VolumeGeometry) -> EvalBatch:
    """``batch``'s (N, C, D, H, W) tensors as (N·S, C, h, w) axial slices, volume by volume,
    each volume's slices in index order; window, pairing and domain unchanged."""
    return _each_tensor(batch, lambda x: plane_slices(x, geometry, SLICE_PLANE))


def has_body(slices: EvalBatch) -> torch.Tensor:
    """Bool (N,): which of ``slices`` hold at least one body voxel: the slices a 2-D dataset
    of the same volumes would deliver (the toolkit skips slices without body)."""
    return slices.mask.flatten(1).any(dim=1)


def with_body(slices: EvalBatch, keep: torch.Tensor | None = None) -> EvalBatch:
    """The slices of ``slices`` that hold body, in order; ``keep`` is :func:`has_body` of
    ``slices`` where the caller has it already."""
    keep = has_body(slices) if keep is None else keep
    if bool(keep.all()):
        return slices
    return _each_tensor(slices, lambda x: x[keep])


def axial_depth(volumes: torch.Tensor, geometry: VolumeGeometry) -> int:
    """The number of axial slices of (N, C, D, H, W) ``volumes``."""
    return int(volumes.shape[2 + geometry.plane_axis(SLICE_PLANE)])


def slice_positions(
    raw: dict[str, torch.Tensor], domain: DomainKey, depth: int
) -> dict[str, torch.Tensor] | None:
    """The position keys of :func:`as_slices`'s slices: each slice's patient (its volume's)
    and its axial index (the volume's first index plus its own), under the shared keys.

    Args:
        raw: the batch as the loader gave it.
        domain: whose position to read (the compared domain).
        depth: the number of axial slices of each volume in the batch.

    Returns:
        ``None`` when the items do not say their volume.
    """
    position = item_position(raw, domain)
    if position is None:
        return None
    volumes, starts = position[0].reshape(-1), position[1].reshape(-1)
    steps = torch.arange(depth, dtype=torch.int64)
    return {
        VOLUME_KEY: volumes.repeat_interleave(depth),
        SLICE_KEY: (starts.view(-1, 1) + steps.view(1, -1)).reshape(-1),
    }
