"""Input checks and masked averaging shared by the paired metrics.

PSNR, MAE and SSIM validate their two image batches, value window and body mask, and average
per-pixel values over the mask, in the same steps; MS-SSIM and LPIPS reuse the image and window
checks, so every paired metric reports a bad input with the same message. Not a plugin module:
it registers nothing.
"""

from __future__ import annotations

import math

import torch

from medganbench.errors import DataError

__all__ = ["Window", "check_images", "check_window", "masked_mean", "prepare_pair"]

#: A target domain's value window ``(low, high)`` in physical units.
Window = tuple[float, float]


def check_images(pred: torch.Tensor, target: torch.Tensor, metric: str) -> None:
    """Check that ``pred`` and ``target`` are matching, non-empty 4-D image batches.

    Args:
        pred: predictions, expected (N, C, H, W).
        target: targets, expected the same shape as ``pred``.
        metric: metric name, for the error message.

    Raises:
        DataError: a tensor is not 4-D, the shapes differ, or C, H or W is zero.
    """
    for label, tensor in (("pred", pred), ("target", target)):
        if tensor.dim() != 4:
            raise DataError(
                f"{metric}: {label} must be a 4-D (N, C, H, W) tensor, got shape "
                f"{tuple(tensor.shape)}.",
                hint="Add the missing batch or channel dimension (e.g. x[None, None]).",
            )
    if pred.shape != target.shape:
        raise DataError(
            f"{metric}: pred and target shapes differ: {tuple(pred.shape)} vs "
            f"{tuple(target.shape)}.",
            hint="Paired metrics compare image i of pred with image i of target; both must "
            "have the same batch size, channels and image size.",
        )
    if min(pred.shape[1:]) == 0:
        raise DataError(f"{metric}: images have no pixels (shape {tuple(pred.shape)}).")


def check_window(window: Window, metric: str) -> tuple[float, float]:
    """Check the value window and return it as floats.

    Args:
        window: (low, high).
        metric: metric name, for the error message.

    Returns:
        ``(low, high)`` as Python floats.

    Raises:
        DataError: the bounds are not finite or ``low >= high``.
    """
    lo, hi = float(window[0]), float(window[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise DataError(
            f"{metric}: the value window must be finite with low < high, got {window!r}.",
            hint="Fix the window declared by the dataset's target domain.",
        )
    return lo, hi


def _check_mask(mask: torch.Tensor, pred: torch.Tensor, metric: str) -> None:
    """Check that ``mask`` is a boolean (N, 1, H, W) mask matching ``pred``.

    Args:
        mask: the body mask.
        pred: the (N, C, H, W) images it belongs to.
        metric: metric name, for the error message.

    Raises:
        DataError: wrong dtype or shape.
    """
    n, _, h, w = pred.shape
    if mask.dtype != torch.bool:
        # A float mask of probabilities or 0/255 would be silently misread as weights.
        raise DataError(
            f"{metric}: the mask must be a bool tensor, got dtype {mask.dtype}.",
            hint="Threshold it first, e.g. mask > 0.",
        )
    if tuple(mask.shape) != (n, 1, h, w):
        raise DataError(
            f"{metric}: the mask must have shape (N, 1, H, W) = {(n, 1, h, w)}, got "
            f"{tuple(mask.shape)}.",
            hint="One single-channel mask per image; it applies to every channel.",
        )


def _raise_if_empty(counts: torch.Tensor, metric: str, where: str) -> None:
    """Raise if any image has no pixel to average over.

    Args:
        counts: (N,) number of counted pixels per image.
        metric: metric name, for the error message.
        where: which pixels were counted, for the error message.

    Raises:
        DataError: naming the offending image indices.
    """
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        shown = ", ".join(str(i) for i in empty[:10]) + (", ..." if len(empty) > 10 else "")
        raise DataError(
            f"{metric}: image(s) {shown} of the batch have no pixels {where}, so the metric "
            "is undefined for them.",
            hint="Check the dataset's body masks (every evaluation image must contain body "
            "pixels), or drop such slices from the evaluation split.",
        )


def _clip64(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Return ``x`` as float64, clipped to ``[lo, hi]``."""
    return x.to(torch.float64).clamp(lo, hi)


def masked_mean(
    values: torch.Tensor, mask: torch.Tensor | None, metric: str, where: str
) -> torch.Tensor:
    """Average per-pixel values over channels and the masked pixels of each image.

    Args:
        values: (N, C, h, w) per-pixel values.
        mask: bool (N, 1, h, w) broadcast over channels, or ``None`` for every pixel.
        metric: metric name, for the error message.
        where: which pixels the mask selects, for the error message.

    Returns:
        (N,) means.

    Raises:
        DataError: an image's mask selects no pixel.
    """
    if mask is None:
        return values.mean(dim=(1, 2, 3))
    mask = mask.to(values.device)
    counts = mask.sum(dim=(1, 2, 3))
    _raise_if_empty(counts, metric, where)
    # Every channel contributes its masked pixels, hence C * count in the denominator.
    total = torch.where(mask, values, values.new_zeros(())).sum(dim=(1, 2, 3))
    return total / (counts.to(values.dtype) * values.shape[1])


def prepare_pair(
    pred: torch.Tensor,
    target: torch.Tensor,
    window: Window,
    mask: torch.Tensor | None,
    metric: str,
) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Validate the inputs and clip both images to the window.

    Returns:
        ``(pred, target, lo, hi)`` with both images float64 and clipped.

    Raises:
        DataError: see :func:`check_images`, :func:`check_window` and the mask check.
    """
    check_images(pred, target, metric)
    lo, hi = check_window(window, metric)
    if mask is not None:
        _check_mask(mask, pred, metric)
    return _clip64(pred, lo, hi), _clip64(target.to(pred.device), lo, hi), lo, hi
