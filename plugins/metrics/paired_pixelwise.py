"""PSNR and MAE as batched functions: one float64 value per image pair.

Both are means of a per-pixel error over the body mask, so they share
:func:`~medganbench_plugins.metrics.paired_inputs.masked_mean`; the metric classes that average
them over a run are in :mod:`medganbench_plugins.metrics.paired`. Not a plugin module: it
registers nothing.
"""

from __future__ import annotations

import torch

from medganbench_plugins.metrics.paired_inputs import Window, masked_mean, prepare_pair

__all__ = ["mae", "psnr"]


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    window: Window,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image pair, in dB.

    Both images are clipped to ``window``; the peak is the data range ``hi - lo``; per image,
    ``PSNR = 10 * log10((hi - lo)**2 / MSE)``. Identical images (MSE 0) give ``+inf``, as
    ``skimage.metrics.peak_signal_noise_ratio`` does.

    Args:
        pred: (N, C, H, W) predictions in physical units.
        target: (N, C, H, W) targets in the same units.
        window: (low, high) value window, e.g. (-1024, 3000) HU for CT.
        mask: optional bool (N, 1, H, W); the MSE is taken over the pixels inside it, all
            channels.

    Returns:
        float64 tensor of shape (N,).

    Raises:
        DataError: malformed inputs, or an image whose mask is empty.
    """
    pred, target, lo, hi = prepare_pair(pred, target, window, mask, "psnr")
    mse = masked_mean((pred - target).square(), mask, "psnr", "inside the mask")
    # Division by an exact zero gives +inf in IEEE arithmetic, and log10(+inf) = +inf.
    return 10.0 * torch.log10((hi - lo) ** 2 / mse)


def mae(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    window: Window,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean absolute error of each image pair, in the data's units (HU for CT).

    Args:
        pred: (N, C, H, W) predictions in physical units.
        target: (N, C, H, W) targets in the same units.
        window: (low, high) value window; both images are clipped to it first.
        mask: optional bool (N, 1, H, W); only pixels inside it count, all channels.

    Returns:
        float64 tensor of shape (N,).

    Raises:
        DataError: malformed inputs, or an image whose mask is empty.
    """
    pred, target, _, _ = prepare_pair(pred, target, window, mask, "mae")
    return masked_mean((pred - target).abs(), mask, "mae", "inside the mask")
