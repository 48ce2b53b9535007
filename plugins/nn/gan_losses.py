"""Adversarial losses by name, on raw discriminator logits: hinge, lsgan, wgan-gp, bce, wgan.

Each loss gives the discriminator's loss on real and fake logits and the generator's loss on
fake logits. ``wgan-gp`` also asks for a gradient penalty of weight 10 (Gulrajani et al. 2017);
other losses may add a penalty of their own weight via :func:`gradient_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: Losses a model may offer as an argument. ``wgan`` (the Wasserstein loss without a penalty)
#: is not among them: it is only a loss with a Lipschitz constraint of the model's own (WGAN's
#: weight clipping), so only the ``wgan`` model asks for it by name.
LOSS_KINDS: tuple[str, ...] = ("hinge", "lsgan", "wgan-gp", "bce")
#: Every loss :func:`adversarial_loss` knows.
ALL_LOSS_KINDS: tuple[str, ...] = (*LOSS_KINDS, "wgan")

#: The gradient-penalty weight that is part of the WGAN-GP loss itself.
WGAN_GP_WEIGHT = 10.0


@dataclass(frozen=True)
class AdversarialLoss:
    """One adversarial loss.

    Attributes:
        name: the loss's name.
        d_loss: (real logits, fake logits) → discriminator loss.
        g_loss: fake logits → generator loss.
        penalty_weight: gradient-penalty weight the loss itself requires (0 if none).
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    penalty_weight: float = 0.0


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    # HLSNC-GAN eq. 5: max(0, 1 − D(x)) + max(0, 1 + D(G(z))).
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _hinge_g(fake: Tensor) -> Tensor:
    # HLSNC-GAN eq. 6 as written: −min(0, −1 + D(G(z))) = max(0, 1 − D(G(z))). It stops pushing
    # once the discriminator scores a fake above 1, unlike the unbounded −D(G(z)) of Lim & Ye.
    return F.relu(1.0 - fake).mean()


def _lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    # Mao et al. 2017 with a/b/c = 0/1/1, halved as in CycleGAN's discriminator update.
    return 0.5 * ((real - 1.0).square().mean() + fake.square().mean())


def _lsgan_g(fake: Tensor) -> Tensor:
    return (fake - 1.0).square().mean()


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real, ones)
        + F.binary_cross_entropy_with_logits(fake, zeros)
    )


def _bce_g(fake: Tensor) -> Tensor:
    # The non-saturating form (Goodfellow et al. 2014, Sec. 3), as every reference code uses.
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def _wgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _wgan_g(fake: Tensor) -> Tensor:
    return -fake.mean()


_LOSSES = {
    "hinge": AdversarialLoss("hinge", _hinge_d, _hinge_g),
    "lsgan": AdversarialLoss("lsgan", _lsgan_d, _lsgan_g),
    "bce": AdversarialLoss("bce", _bce_d, _bce_g),
    "wgan-gp": AdversarialLoss("wgan-gp", _wgan_d, _wgan_g, WGAN_GP_WEIGHT),
    "wgan": AdversarialLoss("wgan", _wgan_d, _wgan_g),
}


def adversarial_loss(name: str) -> AdversarialLoss:
    """Look up an adversarial loss by name.

    Raises:
        ValueError: unknown name.
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(
            f"unknown loss {name!r}; expected one of {', '.join(ALL_LOSS_KINDS)}"
        ) from None


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's penalty E[(‖∇D(x̂)‖₂ − 1)²] at random interpolates x̂ of real and fake images.

    Args:
        critic: the discriminator (called on the interpolates).
        real: real images, (N, C, H, W), or volumes, (N, C, D, H, W).
        fake: fake images of the same shape (detached from the generator's graph here).
        generator: RNG for the interpolation weights (one per sample), drawn on the
            generator's device: a generator on the images' device makes no host-to-device copy.

    Returns:
        A scalar tensor with a graph back to the critic's parameters (double backward).
    """
    n = real.shape[0]
    where = generator.device if generator is not None else real.device
    # One weight per sample, shaped to broadcast over every other axis of images or volumes.
    shape = (n, *(1,) * (real.dim() - 1))
    alpha = torch.rand(shape, generator=generator, device=where).to(real.device, real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grads,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)
    return (grads.flatten(1).norm(2, dim=1) - 1.0).square().mean()
