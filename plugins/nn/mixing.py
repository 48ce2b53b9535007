"""CutMix masks shared by the consistency-regularised GANs (``hagan``'s AttnMix, ``unetgan``).

Both mix real and fake images through a binary mask M (1 = real pixel) and train the
discriminator to see the mix: HAGAN eq. 1–2 and UNetGAN (Schönfeld et al. 2020, Sec. 3.2).
"""

from __future__ import annotations

import torch
from torch import Tensor


def cutmix_mask(n: int, size: int, generator: torch.Generator) -> Tensor:
    """Random CutMix masks (N, 1, size, size) on the CPU: one rectangle per sample.

    The rectangle covers a U(0, 1) share of the area (side √u of each dimension) at a uniform
    position; with probability ½ the rectangle is the real part, otherwise the fake part, so both
    kinds of mix (mostly real, mostly fake) are seen.
    """
    u = torch.rand(n, generator=generator).sqrt()
    side = (u * size).floor().long()
    y0 = (torch.rand(n, generator=generator) * (size - side + 1)).floor().long()
    x0 = (torch.rand(n, generator=generator) * (size - side + 1)).floor().long()
    flip = torch.rand(n, generator=generator) < 0.5
    idx = torch.arange(size)
    in_y = (idx[None] >= y0[:, None]) & (idx[None] < (y0 + side)[:, None])
    in_x = (idx[None] >= x0[:, None]) & (idx[None] < (x0 + side)[:, None])
    box = in_y[:, :, None] & in_x[:, None, :]
    mask = torch.where(flip[:, None, None], box, ~box)
    return mask[:, None].float()
