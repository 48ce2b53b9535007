"""Separable 'valid' filters over the last two or three dimensions, in float64.

Shared by MS-SSIM and the challenges' SSIM conventions. A 'valid' filter keeps only the positions
where the whole window fits: it equals scipy's reflect-padded filter (``uniform_filter``,
``gaussian_filter``) followed by a crop of the window radius from each border, which is how
scikit-image and the SynthRAD evaluation code average their SSIM maps, and it equals the
unpadded convolution of ``pytorch_msssim``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["box_kernel", "crop", "gaussian_kernel", "valid_filter"]

#: scipy.ndimage truncates a Gaussian at 3.5 sigma for scikit-image's SSIM.
TRUNCATE = 3.5


def gaussian_kernel(sigma: float, size: int | None = None) -> tuple[float, ...]:
    """A normalised 1-D Gaussian.

    Args:
        sigma: standard deviation in pixels (positive).
        size: number of taps (odd); default ``2 * int(3.5 * sigma + 0.5) + 1`` (11 for 1.5),
            as scipy builds it.

    Returns:
        ``size`` weights summing to 1.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    radius = int(TRUNCATE * sigma + 0.5) if size is None else size // 2
    weights = [math.exp(-0.5 / sigma**2 * i**2) for i in range(-radius, radius + 1)]
    total = math.fsum(weights)
    return tuple(w / total for w in weights)


def box_kernel(size: int) -> tuple[float, ...]:
    """The uniform window of scipy's ``uniform_filter(size=size)``: ``size`` weights of 1/size."""
    return (1.0 / size,) * size


def valid_filter(x: torch.Tensor, kernel: tuple[float, ...], ndim: int) -> torch.Tensor:
    """Filter the last ``ndim`` dimensions with ``kernel`` along each, valid positions only.

    Written as a sum of shifted slices (k taps), not a convolution: float64 convolution on CPU
    falls back to im2col + GEMM, which is several times slower for these small kernels.

    Args:
        x: (..., *spatial) tensor; every spatial size must be at least ``len(kernel)``.
        kernel: the 1-D weights (odd count).
        ndim: how many trailing dimensions are spatial (2 or 3).

    Returns:
        (..., *(s - k + 1 for s in spatial)).
    """
    k = len(kernel)
    out = x
    for dim in range(x.dim() - ndim, x.dim()):
        n = out.shape[dim] - k + 1
        acc = out.narrow(dim, 0, n) * kernel[0]
        for i in range(1, k):
            acc.add_(out.narrow(dim, i, n), alpha=kernel[i])
        out = acc
    return out


def crop(x: torch.Tensor, radius: int, ndim: int) -> torch.Tensor:
    """Drop ``radius`` positions from both ends of each of the last ``ndim`` dimensions."""
    for dim in range(x.dim() - ndim, x.dim()):
        x = x.narrow(dim, radius, x.shape[dim] - 2 * radius)
    return x
