"""The HAGAN training model: the two-phase schedule, the losses of eq. 7–8, sampling and state.

It trains the networks of :mod:`~medganbench_plugins.models.hagan_nets` with the image
operations of :mod:`~medganbench_plugins.models.hagan_augment`. The paper's sections, the
readings chosen and the registered arguments are in :mod:`medganbench_plugins.models.hagan`,
the plugin module. Not a plugin module: it registers nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.errors import UsageError
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.hagan_augment import attnmix, diff_augment
from medganbench_plugins.models.hagan_nets import Generator, HierDiscriminator
from medganbench_plugins.nn.mixing import cutmix_mask
from medganbench_plugins.nn.training import (
    autocast,
    count_parameters,
    loss_tensors,
    make_optimizer,
    set_requires_grad,
    to_device,
)

__all__ = ["HAGAN", "SIZES"]

#: The image sizes (px) HAGAN builds networks for.
SIZES: tuple[int, ...] = (32, 64, 128, 256)


def _bce(logits: Tensor, target: Tensor | float) -> Tensor:
    if not isinstance(target, Tensor):
        target = torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


class HAGAN(AdversarialModel):
    """HAGAN (see :mod:`medganbench_plugins.models.hagan` for the paper's sections and the readings chosen)."""

    task = Task.SAMPLE

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        size = ctx.image_size
        if size not in SIZES:
            raise UsageError(f"hagan supports image sizes {SIZES}, got {size}.")
        self.channels = ctx.dataset.b.channels
        self.z_dim = int(self.args["z_dim"]) or (1000 if size >= 256 else 100)
        ngf, ndf = int(self.args["ngf"]), int(self.args["ndf"])
        self.use_attnmix = bool(self.args["attnmix"])
        self.use_diffaug = bool(self.args["diffaug"])
        self.reverse_skip = bool(self.args["reverse_skip"])
        self.pixel_branch = bool(self.args["pixel_branch"])
        self.two_phase = bool(self.args["two_phase"])
        self.warmup = float(self.args["warmup"])
        self.alpha = float(self.args["alpha"])
        self.beta = float(self.args["beta"])
        self.beta1 = float(self.args["beta1"])
        self.beta2 = float(self.args["beta2"])
        self.skip_decay = float(self.args["skip_decay"])
        self.generator = Generator(self.z_dim, self.channels, size, ngf, ndf, self.reverse_skip)
        self.discriminator = HierDiscriminator(self.channels, size, ndf, self.pixel_branch)
        fmt = torch.channels_last if ctx.channels_last else torch.preserve_format
        for net in self.nets:
            net.to(device=ctx.device, memory_format=fmt)
        betas = (float(self.args["adam_beta1"]), float(self.args["adam_beta2"]))
        self.opt_g = make_optimizer(
            "adam", self.generator.parameters(), float(self.args["lr_g"]), *betas
        )
        self.opt_d = make_optimizer(
            "adam", self.discriminator.parameters(), float(self.args["lr_d"]), *betas
        )
        # One RNG for noise, masks and augmentation, saved with the model: resume is exact.
        self.rng = torch.Generator().manual_seed(ctx.seed + 7)
        self.progress = 0.0

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """G and D."""
        return (self.generator, self.discriminator)

    def inference_modules(self) -> dict[str, nn.Module]:
        # The running skip averages sampling uses are buffers of the generator.
        return {"generator": self.generator}

    @property
    def augmented_phase(self) -> bool:
        """Phase two of Sec. III-E: past the warm-up share, or always without ``two_phase``."""
        return not self.two_phase or self.progress >= self.warmup

    def set_progress(self, fraction: float) -> None:
        self.progress = float(fraction)

    def _noise(self, n: int, generator: torch.Generator) -> Tensor:
        # Sec. IV: z uniform in [-1, 1].
        return to_device(torch.rand(n, self.z_dim, generator=generator) * 2 - 1, self.ctx.device)

    def _mc(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.ctx.channels_last else x

    def generate(self, z: Tensor, use_skip: bool = True) -> Tensor:
        """G(z) with the running reverse-skip features (if enabled and ``use_skip``), no saliency."""
        skips = self.generator.running_skips() if use_skip else None
        with autocast(self.ctx.device, self.ctx.amp):
            return self.generator(z, skips)[0].float()

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real = self._mc(batch.b)
        n = real.shape[0]
        aug = self.augmented_phase and self.use_diffaug
        mix = self.augmented_phase and self.use_attnmix

        def t(x: Tensor) -> Tensor:
            return diff_augment(x, self.rng) if aug else x

        z = self._noise(n, self.rng)
        zero = torch.zeros((), device=real.device)
        # ---- discriminator (eq. 7) ----
        set_requires_grad((self.discriminator,), True)
        with autocast(self.ctx.device, self.ctx.amp):
            real_in = t(real)
            real_img, real_pix, feats = self.discriminator(real_in)
            skips = None
            if self.reverse_skip:
                # Reverse skip: the real path's features, batch mean, no gradient into D from G.
                skips = {
                    r: feats[r].detach().float().mean(0, keepdim=True)
                    for r in self.generator.skip_res
                }
                self.generator.update_running_skips(skips, self.skip_decay)
            fake, saliency = self.generator(z, skips)
            fake_in = t(fake.detach())
            fake_img, fake_pix, _ = self.discriminator(fake_in)
            d_img = _bce(real_img, 1.0) + _bce(fake_img, 0.0)
            d_pix = _bce(real_pix, 1.0) + _bce(fake_pix, 0.0) if self.pixel_branch else zero
            d_cons, lam_mean = zero, zero
            if mix:
                mask = to_device(
                    cutmix_mask(n, real.shape[-1], self.rng), real.device, fake_in.dtype
                )
                # Mix the augmented images D just scored, so eq. 5's target reuses their logits.
                mixed, lam = attnmix(real_in, fake_in, mask, saliency.detach(), self.alpha)
                mix_img, mix_pix, _ = self.discriminator(self._mc(mixed))
                d_cons = _bce(mix_img, lam)
                if self.pixel_branch:
                    assert mix_pix is not None and real_pix is not None and fake_pix is not None
                    target = mask * real_pix.float() + (1.0 - mask) * fake_pix.float()
                    d_cons = (
                        d_cons + _bce(mix_pix, mask) + (mix_pix.float() - target).square().mean()
                    )
                lam_mean = lam.mean()
            loss_d = d_img + self.beta1 * d_pix + self.beta2 * d_cons
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # ---- generator (eq. 8) ----
        set_requires_grad((self.discriminator,), False)
        with autocast(self.ctx.device, self.ctx.amp):
            g_logit, g_pix, _ = self.discriminator(t(fake))
            g_img = _bce(g_logit, 1.0)
            g_pixel = _bce(g_pix, 1.0) if self.pixel_branch else zero
            loss_g = g_img + self.beta * g_pixel
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad((self.discriminator,), True)
        return loss_tensors(
            ("d_img", "d_pix", "d_cons", "g_img", "g_pix", "mix_label"),
            (d_img, d_pix, d_cons, g_img, g_pixel, lam_mean),
        )

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` images from z ~ U[-1, 1] drawn with ``generator``; call after :meth:`eval_mode`."""
        return self.generate(self._noise(n, generator)).clamp(-1.0, 1.0).contiguous()

    def extra_state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "progress": self.progress}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.progress = float(state["progress"])

    def generator_parameter_count(self) -> int:
        """Learned parameters of G (what sampling runs)."""
        return count_parameters((self.generator,))
