"""The ``unetgan`` model: U-Net GAN (Schönfeld, Schiele & Khoreva, CVPR 2020) as paper 002 ran it.

Paper 002 (Sec. IV, "Implementation") gives UNetGAN the SAGAN generator, as it does HAGAN:
here the ``sagan`` generator of :mod:`.unconditional` (DCGAN layout, spectral norm, batch norm,
self-attention), with the attention where ``hagan`` has it, at min(image_size/2, 64) px: Table
I gives UNetGAN's and HAGAN's generators the same FLOPs (11.96 G), which that placement
reproduces (11.7 G at batch 32) and SAGAN's image_size/4 does not (7.5 G). The discriminator is UNetGAN's: an encoder D_enc scoring the
image and a decoder D_dec scoring every pixel, joined by skips
(:class:`~medganbench_plugins.nn.unet_discriminator.UNetDiscriminator`). As in UNetGAN:

- losses (Sec. 3.1, eq. 2–3; the authors' BCE configuration): non-saturating BCE, averaged over
  the two outputs: L_D = ½(L_enc(real, 1) + L_dec(real, 1)) + ½(L_enc(fake, 0) + L_dec(fake, 0))
  with the decoder's loss averaged over pixels; L_G = ½(L_enc(G(z), 1) + L_dec(G(z), 1));
- CutMix consistency regularisation (Sec. 3.2, eq. 4–5): a mixed image mix(x, G(z), M) (M = 1
  where real) must be called fake by D_enc, M by D_dec, and D_dec's output on it must equal the
  same mix of D_dec's outputs on x and G(z):
  L_mix = BCE(D_enc(mix), 0) + BCE(D_dec(mix), M) + λ·‖D_dec(mix) − mix(D_dec(x), D_dec(G(z)), M)‖²
  (mean squared, the target not detached, λ = ``lambda_cons`` = 1);
- with its warm-up (Sec. 3.2): at each step a coin decides whether the discriminator's batch is
  mixed; its probability r_mix grows linearly from 0 to 0.5 over the warm-up and stays at 0.5.
  A mixed step's discriminator loss is L_mix only (the authors' "full batch mixup");
- Adam lr 5e-5 (G) and 2e-4 (D), β = (0, 0.999), ε = 1e-6 (the authors' training scripts).

Readings: the warm-up is a share of the budget (``warmup``, 0.25, as ``hagan``'s; paper 002 sets
100 warm-up epochs without a total); the CutMix boxes are the shared ones of
:func:`~medganbench_plugins.nn.mixing.cutmix_mask` (area share U(0, 1), box kept inside the
image, real or fake inside with probability ½), where UNetGAN's boxes are centred anywhere and
clipped at the border; no moving average of G's weights (UNetGAN samples from one; no other
GAN here does); batch size 32 (paper 002).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.unconditional import UnconditionalGAN, unconditional_params
from medganbench_plugins.nn.mixing import cutmix_mask
from medganbench_plugins.nn.training import autocast, loss_tensors, set_requires_grad
from medganbench_plugins.nn.unet_discriminator import UNetDiscriminator

#: Largest CutMix probability, reached at the end of the warm-up (UNetGAN Sec. 3.2).
MAX_MIX_PROBABILITY = 0.5


def _bce(logits: Tensor, target: Tensor | float) -> Tensor:
    if not isinstance(target, Tensor):
        target = torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def mix_probability(progress: float, warmup: float) -> float:
    """r_mix at ``progress`` (budget fraction): linear from 0 to 0.5 over ``warmup``, then 0.5."""
    if warmup <= 0.0:
        return MAX_MIX_PROBABILITY
    return MAX_MIX_PROBABILITY * min(1.0, progress / warmup)


class UNetGAN(UnconditionalGAN):
    """SAGAN generator, U-Net discriminator, CutMix consistency with a warm-up."""

    spectral = True
    attention = True
    d_norm = "none"

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.warmup = float(self.args["warmup"])
        self.lambda_cons = float(self.args["lambda_cons"])
        self.mix_rng = torch.Generator().manual_seed(ctx.seed + 3)
        self.progress = 0.0

    def default_attention_res(self, image_size: int) -> int:
        # Paper 002 builds UNetGAN's and HAGAN's generators alike; Table I gives them the same
        # FLOPs, which the attention at min(size/2, 64) px of ``hagan`` reproduces (image_size/4
        # gives 37 % fewer).
        return min(image_size // 2, 64)

    def build_critic(self) -> nn.Module:
        return UNetDiscriminator(
            self.ctx.image_size, self.ctx.dataset.b.channels, int(self.args["ndf"])
        )

    def make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        betas = (float(self.args["beta1"]), float(self.args["beta2"]))
        return torch.optim.Adam(net.parameters(), lr=lr, betas=betas, eps=1e-6)

    def set_progress(self, fraction: float) -> None:
        self.progress = float(fraction)

    def _d_loss(self, real: Tensor, fake: Tensor, mixed_step: bool) -> tuple[Tensor, Tensor]:
        """The discriminator's loss, and the consistency term (0 on an unmixed step)."""
        real_img, real_pix = self.critic(real)
        fake_img, fake_pix = self.critic(fake)
        if not mixed_step:
            loss = 0.5 * (_bce(real_img, 1.0) + _bce(real_pix, 1.0))
            loss = loss + 0.5 * (_bce(fake_img, 0.0) + _bce(fake_pix, 0.0))
            return loss, torch.zeros((), device=real.device)
        mask = cutmix_mask(real.shape[0], real.shape[-1], self.mix_rng).to(real.device, real.dtype)
        mix_img, mix_pix = self.critic(mask * real + (1.0 - mask) * fake)
        target = mask * real_pix.float() + (1.0 - mask) * fake_pix.float()
        consistency = (mix_pix.float() - target).square().mean()
        loss = _bce(mix_img, 0.0) + _bce(mix_pix, mask) + self.lambda_cons * consistency
        return loss, consistency.detach()

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real = batch.b
        if self.ctx.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        n = real.shape[0]
        p_mix = mix_probability(self.progress, self.warmup)
        mixed_step = bool(torch.rand((), generator=self.mix_rng) < p_mix)
        set_requires_grad((self.critic,), True)
        with torch.no_grad(), autocast(self.ctx.device, self.ctx.amp):
            fake = self.generator(self._noise(n)).to(real.dtype)
        with autocast(self.ctx.device, self.ctx.amp):
            loss_d, consistency = self._d_loss(real, fake, mixed_step)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        set_requires_grad((self.critic,), False)
        with autocast(self.ctx.device, self.ctx.amp):
            g_img, g_pix = self.critic(self.generator(self._noise(n)))
            loss_g = 0.5 * (_bce(g_img, 1.0) + _bce(g_pix, 1.0))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad((self.critic,), True)
        mixed = torch.tensor(float(mixed_step), device=loss_d.device)
        return loss_tensors(
            ("g", "d", "consistency", "mixed"), (loss_g, loss_d, consistency, mixed)
        )

    def extra_state(self) -> dict[str, Any]:
        return {
            **super().extra_state(),
            "mix_rng": self.mix_rng.get_state(),
            "progress": self.progress,
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        super().load_extra_state(state)
        self.mix_rng.set_state(state["mix_rng"])
        self.progress = float(state["progress"])


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="unetgan",
            summary="U-Net GAN (Schönfeld et al. 2020): SAGAN generator, U-Net discriminator (image + per-pixel), CutMix consistency with warm-up.",
            version="1",
            factory="medganbench_plugins.models.unetgan:UNetGAN",
            params=unconditional_params(
                batch_size=32,
                lr_g=5e-5,
                lr_d=2e-4,
                beta1=0.0,
                beta2=0.999,
                extra=(
                    Param(
                        "warmup",
                        0.25,
                        "budget share over which the CutMix probability grows from 0 to 0.5",
                        minimum=0.0,
                    ),
                    Param("lambda_cons", 1.0, "weight of the consistency loss", minimum=0.0),
                    Param(
                        "attention_res",
                        0,
                        "feature resolution of G's self-attention; 0 = min(image_size/2, 64)",
                        minimum=0,
                    ),
                ),
            ),
        )
    ]
