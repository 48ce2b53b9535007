"""What every metric of volumes (``spatial_dims = (3,)``) checks and prepares first.

The runner hands such a metric whole volumes, ``(N, C, D, H, W)`` in the target domain's
physical units, and the dataset's :class:`~medganbench.core.geometry.VolumeGeometry` in
:attr:`~medganbench.core.metric.MetricContext.volume`. These helpers refuse anything else with
a message (a 3-D metric built outside a run, fed 2-D images, volumes of several sizes, or a
dataset without the one voxel spacing a metric needs), and map the values through the display
window the way the 2-D metrics do.
"""

from __future__ import annotations

import torch

from medganbench.core.geometry import VolumeGeometry
from medganbench.core.metric import EvalBatch, MetricContext
from medganbench.errors import DataError, UsageError
from medganbench_plugins.metrics.inception import quantise

__all__ = [
    "check_volumes",
    "fixed_spacing",
    "one_size",
    "quantise_volumes",
    "unit_volumes",
    "volume_geometry",
]


def volume_geometry(ctx: MetricContext, metric: str) -> VolumeGeometry:
    """The dataset's volume geometry, which names the planes and gives the spacing.

    Raises:
        UsageError: the context has none (a metric of volumes outside a volume dataset's run).
    """
    if ctx.volume is None:
        raise UsageError(
            f"{metric} scores volumes and needs the dataset's volume geometry "
            "(MetricContext.volume), which this context does not have.",
            hint="Use it on a volume dataset (medganbench list datasets shows their "
            "dimensions), or pass MetricContext(volume=VolumeGeometry(...)) from Python.",
        )
    return ctx.volume


def one_size(ctx: MetricContext, metric: str) -> None:
    """Refuse, when the metric is built, a dataset that evaluates each patient's whole volume
    (:attr:`~medganbench.core.geometry.VolumeGeometry.whole_volumes`): their sizes differ, and a
    metric that compares volumes voxel by voxel, or needs one slice count per volume, cannot
    score them.

    Raises:
        UsageError: naming the metrics that can.
    """
    if ctx.volume is not None and ctx.volume.whole_volumes:
        raise UsageError(
            f"{metric} compares volumes of one size, but dataset {ctx.dataset or '(this one)'} "
            "evaluates each patient's whole volume, whose sizes differ.",
            hint="Score these volumes with frd-3d where the dataset has one voxel spacing, or "
            "with the paired metrics (medganbench list metrics).",
        )


def fixed_spacing(ctx: MetricContext, metric: str) -> tuple[float, float, float] | None:
    """The dataset's voxel spacing (mm along D, H, W); ``None`` outside a volume dataset.

    Raises:
        UsageError: a volume dataset whose spacing differs from patient to patient.
    """
    if ctx.volume is None:
        return None
    if ctx.volume.spacing is None:
        raise UsageError(
            f"{metric} needs one voxel spacing for every volume, but dataset "
            f"{ctx.dataset or '(this one)'} keeps each patient's own spacing.",
            hint="Use a dataset resampled to one spacing (medganbench list datasets --details).",
        )
    return ctx.volume.spacing


def check_volumes(
    batch: EvalBatch, metric: str, shape: tuple[int, ...] | None = None
) -> tuple[int, ...]:
    """Refuse a batch that is not generated and real ``(N, C, D, H, W)`` volumes of one size
    (``shape``, the ``(C, D, H, W)`` of the batches before it, where given).

    Returns:
        The batch's ``(C, D, H, W)``.

    Raises:
        DataError: 2-D images, or volumes of another size.
    """
    pred, target = batch.pred, batch.target
    if pred.dim() != 5 or target.dim() != 5 or pred.shape[1:] != target.shape[1:]:
        raise DataError(
            f"{metric} scores (N, C, D, H, W) volumes of one size, got generated "
            f"{tuple(pred.shape)} and real {tuple(target.shape)}."
        )
    if shape is not None and tuple(pred.shape[1:]) != shape:
        raise DataError(
            f"{metric} scores volumes of one size: (C, D, H, W) {tuple(pred.shape[1:])} after "
            f"{shape}."
        )
    return tuple(pred.shape[1:])


def quantise_volumes(volumes: torch.Tensor, window: tuple[float, float]) -> torch.Tensor:
    """Physical values → uint8 ``(N, 1, D, H, W)`` through the display window, with exactly the
    2-D metrics' :func:`~medganbench_plugins.metrics.inception.quantise` (the first channel)."""
    n, _, d, h, w = volumes.shape
    flat: torch.Tensor = quantise(volumes[:, :1].reshape(n, 1, d * h, w), window)
    return flat[:, :1].reshape(n, 1, d, h, w)


def unit_volumes(volumes: torch.Tensor, window: tuple[float, float]) -> torch.Tensor:
    """float64 volumes clipped to the window ``(lo, hi)`` and rescaled to [0, 1]."""
    lo, hi = window
    return (volumes.to(torch.float64).clamp(lo, hi) - lo) / (hi - lo)
