"""Whole-volume translation by windows: a 3-D model trained on crops translates a patient's
whole volume.

A volume dataset whose evaluation items are whole volumes
(:attr:`~medganbench.core.geometry.VolumeGeometry.whole_volumes`) trains on crops of its
declared size. Its volumes are as large as the crops in-plane but longer along the axial axis, so
:func:`translate_by_windows` cuts each volume into windows of the crop's axial length, half a
window apart (the last one ends at the volume's end), translates every window, and averages the
overlapping predictions with equal weights (MONAI's ``sliding_window_inference`` with
``overlap=0.5, mode="constant"`` along one axis). A volume shorter than a window is padded at its
end with the source's lowest value (-1: the window's low end, the background) and the
prediction cropped back. The result is one prediction of the whole volume, which every metric
then scores.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from medganbench.core.geometry import window_starts

__all__ = ["BACKGROUND", "translate_by_windows"]

#: The value a short volume is padded with, in the model's [-1, 1] units.
BACKGROUND = -1.0


def translate_by_windows(
    translate: Callable[[torch.Tensor], torch.Tensor],
    source: torch.Tensor,
    window: int,
    axis: int,
) -> torch.Tensor:
    """``translate`` applied window by window along ``axis`` of (N, C, D, H, W) ``source``.

    Args:
        translate: the model's translation of one batch of windows (N, C, ..., window, ...);
            it may return another channel count, never another spatial size.
        source: the volumes, in [-1, 1].
        window: the windows' length along ``axis`` (the training crops').
        axis: the spatial axis to slide along (0, 1 or 2: D, H or W).

    Returns:
        (N, C_out, D, H, W): each voxel the mean of the predictions of the windows holding it.
    """
    dim = 2 + axis
    length = source.shape[dim]
    if length < window:
        pad = [0, 0] * (3 - axis)
        pad[-1] = window - length  # F.pad lists the last dimension first
        padded = F.pad(source, pad, value=BACKGROUND)
        return translate(padded).narrow(dim, 0, length)
    if length == window:
        return translate(source)
    total: torch.Tensor | None = None
    counts = torch.zeros(length, device=source.device)
    for start in window_starts(length, window):
        pred = translate(source.narrow(dim, start, window)).float()
        if total is None:
            shape = list(pred.shape)
            shape[dim] = length
            total = torch.zeros(shape, device=pred.device)
        total.narrow(dim, start, window).add_(pred)
        counts[start : start + window] += 1
    assert total is not None
    view = [1] * total.dim()
    view[dim] = length
    return total / counts.view(view)
