"""FIR resampling of StyleGAN2 / NCSN++ in plain PyTorch: upfirdn2d and what is built on it.

:func:`upfirdn2d` is the operation of StyleGAN2's ``upfirdn2d`` (NVlabs; the "native" path of
rosinality's port that DDGAN and SynDiff ship beside their CUDA kernel): insert ``up − 1`` zeros
after every pixel, pad (``pad[0]`` before, ``pad[1]`` after, on both axes), convolve with the
flipped 2-D kernel (a true convolution), keep every ``down``-th pixel. Here it is one grouped
convolution per call (the kernel is the same for every channel), strided where it downsamples.

The resampling filters follow NCSN++ (``up_or_down_sampling.py`` of score_sde): a separable
1-D kernel k becomes outer(k, k) / sum, times factor² when upsampling so a constant image keeps
its value. With k = [1, 3, 3, 1] (the default everywhere here):

- :func:`upsample_2d`: ×2, output (2H, 2W) (a transposed convolution equal to upfirdn2d);
- :func:`downsample_2d`: ÷2, output (H/2, W/2);
- :class:`FirDownConv`: a 3×3 convolution fused with FIR ÷2 (``conv_downsample_2d``): filter,
  then a stride-2 convolution, padding applied once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench_plugins.nn.variance_scaling import fan_avg_init_

#: The NCSN++ / StyleGAN2 resampling kernel.
FIR_KERNEL: tuple[int, ...] = (1, 3, 3, 1)


def fir_kernel(taps: Sequence[float], gain: float = 1.0) -> Tensor:
    """outer(taps, taps) normalised to sum ``gain`` (float32, (K, K))."""
    k = torch.tensor(taps, dtype=torch.float32)
    k2 = torch.outer(k, k)
    return k2 / k2.sum() * gain


def upfirdn2d(
    x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> Tensor:
    """Upsample by zero insertion, pad, FIR-filter, downsample; (N, C, H, W) → (N, C, H', W').

    H' = (H·up + pad[0] + pad[1] − K) // down + 1 for a (K, K) kernel. Pads are non-negative.
    """
    n, c, h, w = x.shape
    if up > 1:
        # Zeros after every pixel: (H, 1) → (H, up) → H·up rows (and likewise for columns).
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    weight = torch.flip(kernel, (0, 1)).to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=down, groups=c)


def upsample_2d(x: Tensor, taps: Sequence[float] = FIR_KERNEL, factor: int = 2) -> Tensor:
    """FIR upsampling by ``factor`` (NCSN++ ``upsample_2d``): ``upfirdn2d`` with up = factor.

    Computed as the equal transposed convolution (weight k unflipped, stride ``factor``,
    padding K − 1 − pad[0]), which skips the inserted zeros: several times faster on a CPU.
    """
    kernel = fir_kernel(taps, factor**2).to(device=x.device, dtype=x.dtype)
    size, c = kernel.shape[0], x.shape[1]
    p = size - factor
    before = (p + 1) // 2 + factor - 1
    weight = kernel[None, None].expand(c, 1, size, size)
    return F.conv_transpose2d(x, weight, stride=factor, padding=size - 1 - before, groups=c)


def downsample_2d(x: Tensor, taps: Sequence[float] = FIR_KERNEL, factor: int = 2) -> Tensor:
    """FIR downsampling by ``factor`` (NCSN++ ``downsample_2d``)."""
    kernel = fir_kernel(taps).to(x.device)
    p = kernel.shape[0] - factor
    return upfirdn2d(x, kernel, down=factor, pad=((p + 1) // 2, p // 2))


class FirDownConv(nn.Module):
    """A ``kernel``×``kernel`` convolution with FIR ÷2 (StyleGAN2's ``conv_downsample_2d``).

    The input is padded once and FIR-filtered, then convolved with stride 2; a bias follows.
    Weights start by the DDPM variance-scaling rule (:func:`fan_avg_init_`), the bias at zero.
    """

    fir: Tensor

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 3, taps: Sequence[float] = FIR_KERNEL
    ) -> None:
        super().__init__()
        self.conv = fan_avg_init_(nn.Conv2d(in_ch, out_ch, kernel, stride=2, padding=0))
        self.register_buffer("fir", fir_kernel(taps), persistent=False)
        self.pad = len(taps) - 2 + kernel - 1

    def forward(self, x: Tensor) -> Tensor:
        p = self.pad
        return self.conv(upfirdn2d(x, self.fir, pad=((p + 1) // 2, p // 2)))
