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

This module holds the metric classes and registers them. The per-image functions live beside
it, one job each, and are re-exported here: input checks and masked averaging in
:mod:`~medganbench_plugins.metrics.paired_inputs`, :func:`psnr` and :func:`mae` in
:mod:`~medganbench_plugins.metrics.paired_pixelwise`, :func:`ssim` in
:mod:`~medganbench_plugins.metrics.paired_ssim`.
"""

from __future__ import annotations

import torch

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import MetricSpec
from medganbench_plugins.metrics.conventions import ConventionMetric, convention_param
from medganbench_plugins.metrics.paired_inputs import Window, check_images, check_window
from medganbench_plugins.metrics.paired_pixelwise import mae, psnr
from medganbench_plugins.metrics.paired_ssim import ssim, ssim_kernel

# The functions and input checks are re-exported: tests, other metrics and third-party plugins
# import them from this module, where they were first defined.
__all__ = [
    "MAE",
    "PSNR",
    "SSIM",
    "Window",
    "check_images",
    "check_window",
    "mae",
    "medganbench_metrics",
    "psnr",
    "ssim",
]


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
        r = len(ssim_kernel(1.5)) // 2
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
