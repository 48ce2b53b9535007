"""The SynthRAD challenges' image metrics, as named conventions of psnr, ssim, mae and ms-ssim.

Written from the published evaluation code's documented behaviour (SynthRAD2023/metrics
``functions/image_metrics.py``; SynthRAD2025/evaluation ``image_metrics.py``) and checked in
``tests/plugins/metrics/test_synthrad_conventions.py`` against values that code printed for fixed
arrays; none of it is copied. Each function takes a batch ``(N, C, *spatial)`` with two
(slices) or three (volumes) spatial dimensions, in HU, and returns one float64 value per item
(channels averaged). The challenges score one 3-D volume per patient; a 2-D slice is scored by
the same rule in two dimensions (not a challenge number, but the same convention).

* **MAE** (both years): mean ``|pred - target|`` over the mask, *not* clipped to any range.
* **PSNR**: both images clipped to the year's HU range ``[lo, hi]`` (2023: ``[-1024, 3000]``,
  2025: ``[-1024, 3071]``), ``10 log10((hi - lo)^2 / MSE)`` with the MSE over the mask.
* **SSIM 2023**: both clipped to ``[-1024, 3000]``, set to ``-1024`` outside the mask, shifted
  by ``+1024``; scikit-image's default SSIM (7-wide uniform window in every dimension, sample
  covariance, K1 = 0.01, K2 = 0.03, data range 4024); the map is averaged over the mask voxels
  at least 3 voxels from the border.
* **MS-SSIM 2025**: clipped to ``[-1024, 3071]``, ``-1024`` outside the mask, shifted; every
  dimension edge-padded to at least 97; five levels with weights (0.0448, 0.2856, 0.3001,
  0.2363, 0.1333), each level's map being ``L^w * C^w * S^w`` (luminance, contrast and
  structure, each clipped at 0, with the level's weight *w* on all three, as the published code
  computes it) from a 7-wide uniform window with sample covariance, averaged over the level's
  mask voxels inside the 3-voxel border; between levels images are averaged over 2-wide blocks
  (the block starting one voxel before each even index, zero outside the image) and the mask is
  subsampled by 2; the result is the product of the five level means, each clipped to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from medganbench.errors import DataError
from medganbench_plugins.metrics.filters import box_kernel, crop, valid_filter

__all__ = [
    "HU_RANGES",
    "MS_SSIM_WEIGHTS",
    "challenge_mae",
    "challenge_ms_ssim",
    "challenge_psnr",
    "challenge_ssim",
]

#: The HU range each challenge clips to and takes as the data range.
HU_RANGES: dict[str, tuple[float, float]] = {
    "synthrad2023": (-1024.0, 3000.0),
    "synthrad2025": (-1024.0, 3071.0),
}
#: Wang, Simoncelli and Bovik (2003), Eq. 7 / Section 3.2: the five scale weights.
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN = 7  # scikit-image's default window when gaussian_weights=False
_MIN_SIZE = 97  # the 2025 code pads every dimension to at least this size
_K1, _K2 = 0.01, 0.03


def _flat(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, metric: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(N, C, *s) images and (N, 1, *s) mask as float64 (N*C, *s) items and a bool mask."""
    if pred.shape != target.shape or pred.dim() not in (4, 5):
        raise DataError(
            f"{metric}: pred and target must be matching (N, C, H, W) or (N, C, D, H, W) "
            f"tensors, got {tuple(pred.shape)} and {tuple(target.shape)}."
        )
    n, c, *spatial = pred.shape
    if mask is None:
        mask = torch.ones((n, 1, *spatial), dtype=torch.bool, device=pred.device)
    if mask.dtype != torch.bool or tuple(mask.shape) != (n, 1, *spatial):
        raise DataError(
            f"{metric}: the mask must be a bool tensor of shape {(n, 1, *spatial)}, got "
            f"{mask.dtype} {tuple(mask.shape)}."
        )
    full = mask.expand(n, c, *spatial).reshape(n * c, *spatial)
    p = pred.to(torch.float64).reshape(n * c, *spatial)
    t = target.to(torch.float64, copy=False).to(p.device).reshape(n * c, *spatial)
    return p, t, full.to(p.device), c


def _per_item(values: torch.Tensor, channels: int) -> torch.Tensor:
    return values.reshape(-1, channels).mean(dim=1)


def _masked_means(values: torch.Tensor, mask: torch.Tensor, metric: str) -> torch.Tensor:
    """Per item, the mean of ``values`` over ``mask``; refuse an item with no voxel in it."""
    counts = mask.flatten(1).sum(dim=1)
    if bool((counts == 0).any()):
        empty = (counts == 0).nonzero().flatten().tolist()[:10]
        raise DataError(
            f"{metric}: item(s) {empty} have no voxel inside the mask where the metric is "
            "defined, so it is undefined for them.",
            hint="Every evaluated slice or volume needs body voxels away from its border.",
        )
    total = torch.where(mask, values, values.new_zeros(())).flatten(1).sum(dim=1)
    return total / counts.to(values.dtype)


def challenge_mae(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """SynthRAD MAE (2023 and 2025 alike): mean ``|pred - target|`` in HU over the mask, unclipped."""
    p, t, m, c = _flat(pred, target, mask, "mae")
    return _per_item(_masked_means((p - t).abs(), m, "mae"), c)


def challenge_psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    hu_range: tuple[float, float],
) -> torch.Tensor:
    """SynthRAD PSNR: clipped to ``hu_range``, peak ``hi - lo``, MSE over the mask."""
    lo, hi = hu_range
    p, t, m, c = _flat(pred, target, mask, "psnr")
    mse = _masked_means((p.clamp(lo, hi) - t.clamp(lo, hi)).square(), m, "psnr")
    return _per_item(10.0 * torch.log10((hi - lo) ** 2 / mse), c)


def _masked_shifted(
    p: torch.Tensor, t: torch.Tensor, m: torch.Tensor, lo: float, hi: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip to [lo, hi], set outside the mask to lo, shift so that lo becomes 0."""
    floor = p.new_full((), lo)
    p = torch.where(m, p.clamp(lo, hi), floor) - lo
    t = torch.where(m, t.clamp(lo, hi), floor) - lo
    return p, t


def _check_size(shape: torch.Size, ndim: int, metric: str) -> None:
    small = [s for s in shape[-ndim:] if s < _WIN]
    if small:
        raise DataError(
            f"{metric}: the images are {'x'.join(map(str, shape[-ndim:]))}, smaller than the "
            f"{_WIN}-wide window in some dimension, so no voxel has a full window.",
            hint="Volumes need at least 7 slices for the SynthRAD 2023 SSIM.",
        )


def _local_stats(
    x: torch.Tensor, y: torch.Tensor, ndim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Means, sample variances and covariance over 7-wide uniform windows (valid part)."""
    kernel = box_kernel(_WIN)
    ux, uy, uxx, uyy, uxy = (valid_filter(v, kernel, ndim) for v in (x, y, x * x, y * y, x * y))
    norm = _WIN**ndim / (_WIN**ndim - 1)  # sample covariance, scikit-image's default
    return ux, uy, norm * (uxx - ux * ux), norm * (uyy - uy * uy), norm * (uxy - ux * uy)


def challenge_ssim(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """SynthRAD 2023 SSIM (see the module docstring)."""
    lo, hi = HU_RANGES["synthrad2023"]
    p, t, m, c = _flat(pred, target, mask, "ssim")
    ndim = p.dim() - 1
    _check_size(p.shape, ndim, "ssim")
    x, y = _masked_shifted(p, t, m, lo, hi)
    ux, uy, vx, vy, vxy = _local_stats(x, y, ndim)
    c1, c2 = (_K1 * (hi - lo)) ** 2, (_K2 * (hi - lo)) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return _per_item(_masked_means(s, crop(m, _WIN // 2, ndim), "ssim"), c)


def _pad_to(x: torch.Tensor, size: int, ndim: int) -> torch.Tensor:
    """Edge-pad each of the last ``ndim`` dimensions to at least ``size`` (centred)."""
    pads: list[int] = []
    for s in reversed(x.shape[-ndim:]):
        short = max(size - s, 0)
        pads += [short // 2, short - short // 2]
    if not any(pads):
        return x
    return F.pad(x.unsqueeze(1), pads, mode="replicate").squeeze(1)


def _halve(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """Mean over 2-wide blocks starting one voxel before each even index (zero outside).

    This is ``fftconvolve(x, ones(2, ...) / 2**ndim, mode="same")[::2, ...]``: the 'same' part
    of a full convolution with an even kernel starts at its first sample.
    """
    for dim in range(x.dim() - ndim, x.dim()):
        n = x.shape[dim]
        shape = list(x.shape)
        shape[dim] = 1
        padded = torch.cat([x.new_zeros(shape), x], dim=dim)
        half = (n + 1) // 2
        pairs = padded.narrow(dim, 0, 2 * half).unflatten(dim, (half, 2))
        x = pairs.mean(dim=dim + 1)
    return x


def _subsample(m: torch.Tensor, ndim: int) -> torch.Tensor:
    for dim in range(m.dim() - ndim, m.dim()):
        idx = torch.arange(0, m.shape[dim], 2, device=m.device)
        m = m.index_select(dim, idx)
    return m


def challenge_ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    hu_range: tuple[float, float] = HU_RANGES["synthrad2025"],
) -> torch.Tensor:
    """SynthRAD 2025 masked MS-SSIM (see the module docstring)."""
    lo, hi = hu_range
    p, t, m, c = _flat(pred, target, mask, "ms-ssim")
    ndim = p.dim() - 1
    x, y = _masked_shifted(p, t, m, lo, hi)
    x, y = _pad_to(x, _MIN_SIZE, ndim), _pad_to(y, _MIN_SIZE, ndim)
    m = _pad_to(m.to(torch.float64), _MIN_SIZE, ndim) > 0.5
    c1, c2 = (_K1 * (hi - lo)) ** 2, (_K2 * (hi - lo)) ** 2
    c3 = c2 / 2
    levels = []
    for level, w in enumerate(MS_SSIM_WEIGHTS):
        if level:
            x, y, m = _halve(x, ndim), _halve(y, ndim), _subsample(m, ndim)
        ux, uy, vx, vy, vxy = _local_stats(x, y, ndim)
        sx, sy = vx.clamp(min=0).sqrt(), vy.clamp(min=0).sqrt()
        lum = ((2 * ux * uy + c1) / (ux * ux + uy * uy + c1)).clamp(min=0)
        con = ((2 * sx * sy + c2) / (vx + vy + c2)).clamp(min=0)
        struct = ((vxy + c3) / (sx * sy + c3)).clamp(min=0)
        level_map = lum**w * con**w * struct**w
        levels.append(_masked_means(level_map, crop(m, _WIN // 2, ndim), "ms-ssim"))
    return _per_item(torch.stack(levels).clamp(0, 1).prod(dim=0), c)
