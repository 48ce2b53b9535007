"""HAGAN's image operations: AttnMix (Sec. III-B, eq. 1–4) and DiffAugment (after Zhao et al. 2020).

Both act on batches of images and hold no learned state; the model that applies them in its
augmented phase is :class:`medganbench_plugins.models.hagan_model.HAGAN`. Not a plugin module:
it registers nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from medganbench_plugins.nn.training import to_device

__all__ = ["attnmix", "diff_augment"]


# ---- AttnMix (Sec. III-B) ---------------------------------------------------------------------


def attnmix(
    real: Tensor, fake: Tensor, mask: Tensor, saliency: Tensor, alpha: float
) -> tuple[Tensor, Tensor]:
    """Mix real and fake images (eq. 1–2) and give each mix its attention-adjusted label (eq. 3–4).

    Args:
        real: real images x, (N, C, H, W).
        fake: fake images G(z), same shape.
        mask: binary M, (N, 1, H, W); 1 where the pixel comes from ``real``.
        saliency: non-negative per-pixel attention A, (N, 1, H, W), not all zero per sample.
        alpha: weight of the attention-based share; λ = (1 − α)·λ0 + α·λ1 (eq. 4 at α = ½).

    Returns:
        ``(mixed, label)``: ``mixed = M⊙x + (1 − M)⊙G(z)`` and λ of shape (N,), where
        λ0 = mean(M) and λ1 = Σ M⊙A / Σ A (eq. 3).
    """
    mixed = mask * real + (1.0 - mask) * fake
    lam0 = mask.flatten(1).mean(1)
    lam1 = (mask * saliency).flatten(1).sum(1) / saliency.flatten(1).sum(1)
    return mixed, (1.0 - alpha) * lam0 + alpha * lam1


# ---- DiffAugment (Sec. III-B, after Zhao et al. 2020) ------------------------------------------


def diff_augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Brightness, contrast, translation and cutout with fresh random parameters per sample.

    Differentiable in ``x``; all randomness comes from ``generator`` (CPU), so a restored
    generator state repeats the augmentation exactly.
    """
    n, _, h, w = x.shape
    dev, dt = x.device, x.dtype

    def rand(*shape: int) -> Tensor:
        return to_device(torch.rand(*shape, generator=generator), dev, dt)

    x = x + (rand(n, 1, 1, 1) - 0.5)  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (rand(n, 1, 1, 1) + 0.5) + mean  # contrast
    # Translation by up to 1/8 of the side, padding with 0 (index gathers keep it differentiable).
    s = max(1, h // 8)
    dy = torch.randint(-s, s + 1, (n,), generator=generator)
    dx = torch.randint(-s, s + 1, (n,), generator=generator)
    padded = F.pad(x, (s, s, s, s))
    rows = to_device(torch.arange(h)[None] + s - dy[:, None], dev)
    cols = to_device(torch.arange(w)[None] + s - dx[:, None], dev)
    c = x.shape[1]
    padded = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * s))
    x = padded.gather(3, cols[:, None, None, :].expand(n, c, h, w))
    # Cutout of a half-side square centred anywhere in the image.
    ch, cw = h // 2, w // 2
    cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=generator)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=generator)
    yy, xx = torch.arange(h), torch.arange(w)
    in_y = (yy[None] >= (cy - ch // 2)[:, None]) & (yy[None] < (cy - ch // 2 + ch)[:, None])
    in_x = (xx[None] >= (cx - cw // 2)[:, None]) & (xx[None] < (cx - cw // 2 + cw)[:, None])
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * to_device(keep[:, None], dev, dt)
