"""Multi-scale SSIM (Wang, Simoncelli and Bovik 2003), medganbench's convention.

:func:`ms_ssim` equals ``pytorch_msssim.ms_ssim(x, y, data_range=1, win_size=11,
win_sigma=1.5)`` (``size_average=False``, then the mean over channels) on the images prepared
as follows, checked in ``tests/plugins/metrics/test_msssim.py`` to 1e-5:

* both images are clipped to the target window ``[lo, hi]`` and rescaled to [0, 1];
* with a body mask, both are set to 0 (the window's low end) outside it, so the background
  counts as perfect agreement, as the SynthRAD challenges do before their SSIM (a masked map
  mean cannot be used: at the coarsest scales few or no positions remain inside a small mask);
* an image whose side is below 161 pixels (``(11 - 1) * 2**4 + 1``, the smallest size with a
  full Gaussian window at the fifth scale) is edge-padded, centred, to 161 in that dimension,
  as the SynthRAD 2025 evaluation pads volumes to its minimum size.

Five scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); an 11-tap Gaussian
(sigma 1.5) 'valid' window; population covariance; K1 = 0.01, K2 = 0.03; contrast-structure
means of scales 1-4 and the SSIM mean of scale 5, each clipped at 0, raised to their weights and
multiplied; 2 x 2 average pooling between scales (a zero row/column added on both sides of odd
sizes, counted in the average). 2-D ``(N, C, H, W)`` or 3-D ``(N, C, D, H, W)``. float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import MetricSpec
from medganbench.errors import DataError
from medganbench_plugins.metrics.conventions import ConventionMetric, convention_param
from medganbench_plugins.metrics.filters import gaussian_kernel, valid_filter
from medganbench_plugins.metrics.paired_inputs import check_window

__all__ = ["MIN_SIZE", "MSSSIM", "WEIGHTS", "medganbench_metrics", "ms_ssim"]

WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_KERNEL = gaussian_kernel(1.5)
#: The smallest side with a full 11-tap window after four halvings.
MIN_SIZE = (len(_KERNEL) - 1) * 2 ** (len(WEIGHTS) - 1) + 1
_C1, _C2 = 0.01**2, 0.03**2


def _pad(x: torch.Tensor, ndim: int) -> torch.Tensor:
    pads: list[int] = []
    for s in reversed(x.shape[-ndim:]):
        short = max(MIN_SIZE - s, 0)
        pads += [short // 2, short - short // 2]
    return F.pad(x, pads, mode="replicate") if any(pads) else x


def _scale(x: torch.Tensor, y: torch.Tensor, ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item and channel: the mean SSIM and the mean contrast-structure term."""
    ux, uy, uxx, uyy, uxy = (valid_filter(v, _KERNEL, ndim) for v in (x, y, x * x, y * y, x * y))
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    cs = (2 * vxy + _C2) / (vx + vy + _C2)
    ssim = ((2 * ux * uy + _C1) / (ux * ux + uy * uy + _C1)) * cs
    return ssim.flatten(2).mean(-1), cs.flatten(2).mean(-1)


def ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    window: tuple[float, float],
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """MS-SSIM of each pair (see the module docstring).

    Args:
        pred: (N, C, H, W) or (N, C, D, H, W) predictions in physical units.
        target: the targets, same shape and units.
        window: (low, high) value window.
        mask: optional bool (N, 1, ...) body mask; outside it both images are set to ``low``.

    Returns:
        float64 (N,).

    Raises:
        DataError: shapes that do not match, or a bad window or mask.
    """
    if pred.shape != target.shape or pred.dim() not in (4, 5) or min(pred.shape[1:]) == 0:
        raise DataError(
            "ms-ssim: pred and target must be matching non-empty (N, C, H, W) or "
            f"(N, C, D, H, W) tensors, got {tuple(pred.shape)} and {tuple(target.shape)}."
        )
    lo, hi = check_window(window, "ms-ssim")
    ndim = pred.dim() - 2
    x = (pred.to(torch.float64).clamp(lo, hi) - lo) / (hi - lo)
    y = (target.to(torch.float64).to(x.device).clamp(lo, hi) - lo) / (hi - lo)
    if mask is not None:
        want = (pred.shape[0], 1, *pred.shape[2:])
        if mask.dtype != torch.bool or tuple(mask.shape) != want:
            raise DataError(
                f"ms-ssim: the mask must be a bool tensor of shape {want}, got {mask.dtype} "
                f"{tuple(mask.shape)}."
            )
        inside = mask.to(x.device)
        x, y = torch.where(inside, x, 0.0), torch.where(inside, y, 0.0)
    x, y = _pad(x, ndim), _pad(y, ndim)
    pool = F.avg_pool2d if ndim == 2 else F.avg_pool3d
    factors = []
    for level in range(len(WEIGHTS)):
        ssim, cs = _scale(x, y, ndim)
        if level < len(WEIGHTS) - 1:
            factors.append(cs.clamp(min=0))
            padding = [s % 2 for s in x.shape[2:]]
            x, y = pool(x, kernel_size=2, padding=padding), pool(y, kernel_size=2, padding=padding)
    factors.append(ssim.clamp(min=0))
    weights = torch.tensor(WEIGHTS, dtype=torch.float64, device=x.device).view(-1, 1, 1)
    per_channel = (torch.stack(factors) ** weights).prod(dim=0)
    return per_channel.mean(dim=1)


class MSSSIM(ConventionMetric):
    """Mean over images of the per-image MS-SSIM (see :func:`ms_ssim`)."""

    kind = "ms-ssim"
    higher_is_better = True
    convention = (
        "per image MS-SSIM (Wang 2003; 5 scales, weights 0.0448/0.2856/0.3001/0.2363/0.1333, "
        "Gaussian sigma=1.5 11-tap valid window, 2x2 average pooling) of both images clipped to "
        "the window and rescaled to [0,1], set to 0 outside the body mask, edge-padded to 161 px "
        "where smaller; equals pytorch_msssim.ms_ssim(data_range=1); then mean over images"
    )

    score = staticmethod(ms_ssim)

    def pool_slices(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        window: tuple[float, float],
        mask: torch.Tensor,
    ) -> float:
        """One patient: the mean of its slices' 2-D MS-SSIM (the 3-D variant is synthrad2025's)."""
        return float(ms_ssim(pred, target, window=window, mask=mask.transpose(0, 1)).mean())


@hookimpl
def medganbench_metrics() -> list[MetricSpec]:
    """Register ``ms-ssim``."""
    return [
        MetricSpec(
            name="ms-ssim",
            summary="Multi-scale SSIM, 5 scales, as pytorch-msssim (paired).",
            version="1",
            factory="medganbench_plugins.metrics.msssim:MSSSIM",
            params=(convention_param(("synthrad2025",)),),
        )
    ]
