"""Paired image metrics: PSNR, SSIM and MAE.

Each metric is a batched function over ``(N, C, H, W)`` tensors in physical units (HU for CT)
returning one float64 value per image, and a :class:`~medganbench.core.metric.PairedMetric` class
that averages those values over every evaluated image.

The conventions below are the contract; each class states its own in ``convention``, which is
written on every leaderboard row:

* Both images are first clipped to the target domain's window ``[lo, hi]``.
* PSNR uses the data range ``hi - lo`` (4024 for CT with the window (-1024, 3000) HU) and is
  computed per image as ``10 * log10(range**2 / MSE)``; identical images give ``+inf``, as in
  scikit-image.
* MAE is in the data's units.
* SSIM rescales both clipped images to [0, 1] and matches
  ``skimage.metrics.structural_similarity(x, y, data_range=1, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)``: Gaussian local statistics (sigma 1.5 truncated at 3.5 sigma,
  an 11 x 11 kernel), averaged over the interior where the whole window fits.
* With a body mask, only pixels inside it count (all channels for PSNR and MAE; for SSIM, the
  pixels of the valid interior that are inside the mask).

These are the ``medganbench`` conventions; ``--metric-arg psnr.convention=synthrad2023`` (or
``synthrad2025``) computes a metric as a SynthRAD challenge does instead
(:mod:`medganbench_plugins.metrics.conventions`).

All arithmetic is done in float64, whatever the input dtype: PSNR of a near-perfect
translation divides by a tiny MSE, and SSIM subtracts squared local means (``E[x^2] - E[x]^2``),
where float32 cancellation would cost several digits.
"""

from __future__ import annotations

import math

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import MetricSpec
from medganbench.errors import DataError
from medganbench_plugins.metrics.conventions import ConventionMetric, convention_param

__all__ = ["MAE", "PSNR", "SSIM", "mae", "medganbench_metrics", "psnr", "ssim"]

Window = tuple[float, float]

# scikit-image (through scipy.ndimage.gaussian_filter) truncates the Gaussian at 3.5 sigma when
# ``gaussian_weights=True``; matching it is what makes our SSIM comparable to published values.
_TRUNCATE = 3.5


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Shared arithmetic
# --------------------------------------------------------------------------------------------


def _clip64(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Return ``x`` as float64, clipped to ``[lo, hi]``."""
    return x.to(torch.float64).clamp(lo, hi)


def _masked_mean(
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


def _prepare(
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
        DataError: see :func:`check_images`, :func:`check_window`, :func:`_check_mask`.
    """
    check_images(pred, target, metric)
    lo, hi = check_window(window, metric)
    if mask is not None:
        _check_mask(mask, pred, metric)
    return _clip64(pred, lo, hi), _clip64(target.to(pred.device), lo, hi), lo, hi


# --------------------------------------------------------------------------------------------
# PSNR and MAE
# --------------------------------------------------------------------------------------------


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
    pred, target, lo, hi = _prepare(pred, target, window, mask, "psnr")
    mse = _masked_mean((pred - target).square(), mask, "psnr", "inside the mask")
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
    pred, target, _, _ = _prepare(pred, target, window, mask, "mae")
    return _masked_mean((pred - target).abs(), mask, "mae", "inside the mask")


# --------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------


def _gaussian_kernel(sigma: float) -> tuple[float, ...]:
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
    pred, target, lo, hi = _prepare(pred, target, window, mask, "ssim")
    kernel = _gaussian_kernel(sigma)
    _check_ssim_size(pred.shape, len(kernel), sigma)
    x, y = (pred - lo) / (hi - lo), (target - lo) / (hi - lo)
    s = _ssim_map(x, y, kernel, k1, k2)
    if mask is not None:
        # The map covers only the valid interior; crop the mask to the same pixels.
        r = len(kernel) // 2
        mask = mask[..., r : mask.shape[-2] - r, r : mask.shape[-1] - r]
    where = f"inside the mask within the SSIM valid interior ({len(kernel) // 2} px border)"
    return _masked_mean(s, mask, "ssim", where)


# --------------------------------------------------------------------------------------------
# Metric classes and plugin hook
# --------------------------------------------------------------------------------------------


class PSNR(ConventionMetric):
    """Mean over images of the per-image PSNR (see :func:`psnr`)."""

    kind = "psnr"
    higher_is_better = True
    convention = (
        "per image 10*log10((hi-lo)^2/MSE) in dB, both images clipped to the window [lo, hi], "
        "MSE over body-mask pixels (all channels), then mean over images (identical images "
        "give +inf)"
    )

    # The functional form is the per-image score itself (same signature as PairedMetric.score).
    score = staticmethod(psnr)


class SSIM(ConventionMetric):
    """Mean over images of the per-image SSIM (see :func:`ssim`)."""

    kind = "ssim"
    higher_is_better = True
    convention = (
        "per image SSIM of both images clipped to the window and rescaled to [0,1] "
        "(C1=0.01^2, C2=0.03^2), Gaussian sigma=1.5 11x11 window, population covariance, "
        "map averaged over body-mask pixels of the valid interior (5 px border cropped) and "
        "channels, then mean over images; equals skimage structural_similarity(data_range=1, "
        "gaussian_weights=True, use_sample_covariance=False) without a mask"
    )

    # The functional form is the per-image score itself (same signature as PairedMetric.score).
    score = staticmethod(ssim)

    def pool_slices(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        window: Window,
        mask: torch.Tensor,
    ) -> float:
        """One patient: the 2-D SSIM maps of all its slices, averaged over every mask pixel of
        their valid interiors (each slice weighted by its count of such pixels)."""
        masks = mask.transpose(0, 1)  # (D, 1, H, W)
        values = ssim(pred, target, window=window, mask=masks)
        r = len(_gaussian_kernel(1.5)) // 2
        counts = masks[..., r : masks.shape[-2] - r, r : masks.shape[-1] - r].sum(dim=(1, 2, 3))
        weights = counts.to(torch.float64)
        return float((values * weights).sum() / weights.sum())


class MAE(ConventionMetric):
    """Mean over images of the per-image mean absolute error (see :func:`mae`)."""

    kind = "mae"
    higher_is_better = False
    convention = (
        "per image mean |pred-target| in the data's units (HU for CT), both images clipped to "
        "the window, over body-mask pixels (all channels), then mean over images"
    )

    # The functional form is the per-image score itself (same signature as PairedMetric.score).
    score = staticmethod(mae)


_MODULE = "medganbench_plugins.metrics.paired"


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``psnr``, ``ssim`` and ``mae``, each with a ``convention`` argument."""
    return [
        MetricSpec(
            name="psnr",
            summary="Peak signal-to-noise ratio in dB, range = window width (paired).",
            version="1",
            factory=f"{_MODULE}:PSNR",
            params=(convention_param(("synthrad2023", "synthrad2025")),),
        ),
        MetricSpec(
            name="ssim",
            summary="Structural similarity, Gaussian sigma=1.5, as scikit-image (paired).",
            version="1",
            factory=f"{_MODULE}:SSIM",
            params=(convention_param(("synthrad2023", "synthrad2025")),),
        ),
        MetricSpec(
            name="mae",
            summary="Mean absolute error in the data's units, e.g. HU (paired).",
            version="1",
            factory=f"{_MODULE}:MAE",
            params=(convention_param(("synthrad2023", "synthrad2025")),),
        ),
    ]
