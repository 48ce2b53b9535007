"""SSIM as a batched function, matching scikit-image's ``structural_similarity``.

Gaussian local statistics (sigma 1.5 truncated at 3.5 sigma, an 11 x 11 kernel) averaged over
the interior where the whole window fits, in float64: SSIM subtracts squared local means
(``E[x^2] - E[x]^2``), where float32 cancellation would cost several digits. The metric class
that averages it over a run is :class:`medganbench_plugins.metrics.paired.SSIM`. Not a plugin
module: it registers nothing.
"""

from __future__ import annotations

import math

import torch

from medganbench.errors import DataError
from medganbench_plugins.metrics.paired_inputs import Window, masked_mean, prepare_pair

__all__ = ["ssim", "ssim_kernel"]

# scikit-image (through scipy.ndimage.gaussian_filter) truncates the Gaussian at 3.5 sigma when
# ``gaussian_weights=True``; matching it is what makes our SSIM comparable to published values.
_TRUNCATE = 3.5


def ssim_kernel(sigma: float) -> tuple[float, ...]:
    """The normalised 1-D Gaussian kernel scikit-image uses for SSIM.

    Built as ``scipy.ndimage.gaussian_filter1d`` builds it, so the weights agree to rounding.
    Plain Python floats: they serve as scalar multipliers, with no device synchronisation.

    Args:
        sigma: standard deviation in pixels.

    Returns:
        ``2 * int(3.5 * sigma + 0.5) + 1`` weights summing to 1 (11 for sigma 1.5).

    Raises:
        ValueError: ``sigma`` is not positive (a programming error, not a data error).
    """
    if not sigma > 0:
        raise ValueError(f"ssim: sigma must be positive, got {sigma!r}")
    radius = int(_TRUNCATE * sigma + 0.5)  # same rounding as scipy.ndimage.gaussian_filter1d
    weights = [math.exp(-0.5 / sigma**2 * i**2) for i in range(-radius, radius + 1)]
    total = math.fsum(weights)
    return tuple(w / total for w in weights)


def _valid_blur(x: torch.Tensor, kernel: tuple[float, ...]) -> torch.Tensor:
    """Separable filter over the last two dimensions, keeping only fully covered pixels.

    A 'valid' correlation equals scikit-image's reflect-padded filter followed by its crop of
    ``radius`` pixels per border, without computing the border at all. It is written as a sum
    of shifted slices rather than ``conv2d``: float64 convolution on CPU falls back to
    im2col + GEMM, which measured about 6x slower for 11 taps.

    Args:
        x: (..., H, W) tensor.
        kernel: k weights (odd k).

    Returns:
        (..., H - k + 1, W - k + 1).
    """
    k = len(kernel)
    w = x.shape[-1] - k + 1
    rows = x[..., :, 0:w] * kernel[0]
    for i in range(1, k):  # loop over the k taps, not over images
        rows.add_(x[..., :, i : i + w], alpha=kernel[i])
    h = x.shape[-2] - k + 1
    out = rows[..., 0:h, :] * kernel[0]
    for i in range(1, k):
        out.add_(rows[..., i : i + h, :], alpha=kernel[i])
    return out


def _ssim_map(
    x: torch.Tensor, y: torch.Tensor, kernel: tuple[float, ...], k1: float, k2: float
) -> torch.Tensor:
    """Local SSIM of images already scaled to [0, 1] (data range 1).

    Args:
        x, y: (N, C, H, W) float64 in [0, 1].
        kernel: 1-D Gaussian weights, k of them.
        k1, k2: SSIM stability constants; C1 = k1**2, C2 = k2**2.

    Returns:
        (N, C, H - k + 1, W - k + 1) SSIM map over the valid interior.
    """
    ux, uy, uxx, uyy, uxy = (_valid_blur(m, kernel) for m in (x, y, x * x, y * y, x * y))
    # Population covariances (no N/(N-1) factor), as use_sample_covariance=False.
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1, c2 = k1**2, k2**2
    # Same factorisation and operation order as scikit-image, so results agree to rounding.
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
    return (a1 * a2) / (b1 * b2)


def _check_ssim_size(shape: torch.Size, size: int, sigma: float) -> None:
    """Raise if images are smaller than the SSIM window.

    Raises:
        DataError: H or W is below ``size``.
    """
    h, w = shape[-2:]
    if h < size or w < size:
        raise DataError(
            f"ssim: the images are {h}x{w} pixels, smaller than the {size}x{size} Gaussian "
            f"window (sigma={sigma}, truncated at {_TRUNCATE} sigma), so no pixel has a full "
            "window.",
            hint=f"Evaluate at an image size of at least {size}x{size}, or use a smaller sigma.",
        )


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    window: Window,
    mask: torch.Tensor | None = None,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity of each image pair.

    Both images are clipped to ``window`` and rescaled to [0, 1]; the result matches
    ``skimage.metrics.structural_similarity(x, y, data_range=1, gaussian_weights=True,
    sigma=sigma, use_sample_covariance=False, K1=k1, K2=k2)`` (with ``channel_axis`` for
    C > 1): the SSIM map is averaged over the interior where the whole Gaussian window fits
    (``int(3.5 * sigma + 0.5)`` pixels, 5 for sigma 1.5, are cropped from each border), then
    over channels. Computed in float64 whatever the input dtype.

    Args:
        pred: (N, C, H, W) predictions in physical units.
        target: (N, C, H, W) targets in the same units.
        window: (low, high) value window, e.g. (-1024, 3000) HU for CT.
        mask: optional bool (N, 1, H, W); the SSIM map is averaged over the pixels of the
            valid interior that are inside it.
        sigma: Gaussian standard deviation in pixels.
        k1, k2: stability constants (C1 = k1**2, C2 = k2**2 for data range 1).

    Returns:
        float64 tensor of shape (N,).

    Raises:
        DataError: malformed inputs, images smaller than the window, or an image whose mask
            has no pixel in the valid interior.
    """
    pred, target, lo, hi = prepare_pair(pred, target, window, mask, "ssim")
    kernel = ssim_kernel(sigma)
    _check_ssim_size(pred.shape, len(kernel), sigma)
    x, y = (pred - lo) / (hi - lo), (target - lo) / (hi - lo)
    s = _ssim_map(x, y, kernel, k1, k2)
    if mask is not None:
        # The map covers only the valid interior; crop the mask to the same pixels.
        r = len(kernel) // 2
        mask = mask[..., r : mask.shape[-2] - r, r : mask.shape[-1] - r]
    where = f"inside the mask within the SSIM valid interior ({len(kernel) // 2} px border)"
    return masked_mean(s, mask, "ssim", where)
