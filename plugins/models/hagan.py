"""The ``hagan`` model: HAGAN, a hybrid augmented GAN for unconditional medical image synthesis.

Source: "HAGAN: Hybrid Augmented Generative Adversarial Network for Medical Image Synthesis"
(``../shared/papers/002_*``), Sec. III (eq. 1–8, Fig. 2–4) and Sec. IV (implementation notes,
Table I parameter counts, Table IV ablation).

What is taken as stated:

- a SAGAN-structured generator (Sec. IV "the generator structure is consistent with SAGAN"):
  z ∈ U[-1, 1]^100 (1000 for high-resolution runs) projected to 4×4 by a transposed convolution,
  stride-2 transposed-convolution blocks with BatchNorm and ReLU, one self-attention block
  whose attention map feeds AttnMix, a tanh output (:class:`Generator`);
- AttnMix (Sec. III-B, eq. 1–4): CutMix of real and fake images with a binary mask M (1 = real)
  whose image-level label is re-weighted by the generator's last attention map (:func:`attnmix`);
- a hierarchical discriminator (Sec. III-C): a four-layer (at 64 px) downsampling image branch
  and a pixel branch that reduces channels back to a per-pixel true/fake map (:class:`HierDiscriminator`);
- L_D = L_img + β1·L_pixel + β2·L_cons (eq. 7) and L_G = L_img + β·L_pixel (eq. 8) with the
  non-saturating ("unsaturated target") BCE loss (Sec. III-B);
- Reverse Skip Connection (Sec. III-D, Fig. 4): features of D's real-image path fed into G at
  the same resolution;
- DiffAugment T on real and fake images (Sec. III-B);
- a two-phase schedule (Sec. III-E "Training Strategies"): plain training on un-augmented data
  first, then augmented training with AttnMix;
- Adam with learning rate 1e-3 for G and D, batch size 32 (Sec. IV).

Readings chosen where the paper is silent or ambiguous (each exposed as an argument where it
is a number or a switch):

- eq. 3–4, ``alpha``: λ1 = Σ M⊙A / Σ A with A the attention map's per-pixel saliency (how much
  attention each key position receives, summed over all query positions, upsampled to image
  size); eq. 4's λ = α(λ0 + λ1) only stays a valid label in [0, 1] for α = ½, so it is written as
  λ = (1 − α)·λ0 + α·λ1, which is eq. 4 exactly at the default α = 0.5.
- L_cons (eq. 5), ``beta2``: image level, BCE(D_img(i), λ) (the mixed image's soft label,
  Sec. III-B "the label at the image level is ... λ"); pixel level (only with the pixel branch,
  Table IV's "Cons Pix Loss"), BCE(D_pix(i), M) + ‖D_pix(i) − (M⊙D_pix(T(x)) + (1−M)⊙D_pix(T(G(z))))‖²
  on logits (eq. 5, UNetGAN-style, target not detached). The generator sees no mixed images:
  eq. 8 has no consistency term, and the fakes are detached before mixing.
- the adversarial loss is BCE, not L2: Sec. III-B says "unsaturated target", Sec. III-E says "L2";
  the brief of this benchmark fixes the former.
- Reverse Skip Connection: D's encoder features of the real batch at resolution r (r = 8 …
  size/2), detached and averaged over the batch, go through a per-resolution 1×1 convolution of
  G and are added to G's features at r (broadcast over G's batch). Sampling has no real batch,
  so G keeps an exponential moving average (decay ``skip_decay``, first value copied) of those
  batch means as buffers; :meth:`HAGAN.sample` uses them. The 4×4 level is skipped to keep
  G near Table I's 3.6 M parameters.
- DiffAugment: translation (⅛ of the side), cutout (half the side) and brightness/contrast, as in
  Zhao et al. 2020's gray/colour policy, filled with 0 (mid-grey in [-1, 1]) as DiffAugment does,
  with fresh random parameters for each batch it sees (real and fake alike), drawn from a
  ``torch.Generator`` owned by the model.
- Phase one (fraction of the budget < ``warmup``; the paper's 100 warm-up epochs) is the
  "conventional training" of Sec. III-E: no augmentation and no mixing; phase two switches on
  DiffAugment (``diffaug``) and AttnMix (``attnmix``). ``two_phase=false`` starts in phase two.
- the pixel branch is a U-Net-style decoder of 1×1 convolutions ("channel dimension
  downsampling path"): upsample ×2, reduce channels to the encoder level's, add that level's
  features, LeakyReLU; a final 1×1 convolution gives one logit per pixel at full size. D uses
  spectral normalisation (SAGAN); G uses BatchNorm (SAGAN).
- the self-attention block sits at min(size/2, 64) px, so the attention map stays tractable at
  256 px; SAGAN's 64 px generator has it at 32 px.

Parameter counts at 64 px, 1 channel, defaults: G 3,666,322 (Table I: 3.6 M), D 2,935,234
(Table I: 2.8 M; the pixel branch adds 0.17 M to a DCGAN encoder of 2.77 M).

The paper's ablation grid (Table IV) is :data:`TABLE4_ABLATION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import UsageError
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.nn.mixing import cutmix_mask
from medganbench_plugins.nn.training import (
    autocast,
    count_parameters,
    loss_tensors,
    make_optimizer,
    set_requires_grad,
    to_device,
)

#: HAGAN Table IV (COVID-CT): label → model arguments of ``hagan``. Each row adds one module to
#: the one above. "Base Model" is SAGAN with image-level loss only; "+ AttnMix Generator" adds
#: DiffAugment, AttnMix and image-level consistency (Table IV's "Cons Img Loss"), trained from the
#: start; the pixel branch brings the pixel-level adversarial and consistency losses together.
TABLE4_ABLATION: dict[str, dict[str, str]] = {
    "Base Model": {
        "attnmix": "false",
        "diffaug": "false",
        "reverse_skip": "false",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ AttnMix Generator": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "false",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ Reverse Skip Connection": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ Hierarchical Discriminator": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "true",
        "two_phase": "false",
    },
    "+ Training Strategy(Ours)": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "true",
        "two_phase": "true",
    },
}

SIZES: tuple[int, ...] = (32, 64, 128, 256)


def _level_channels(base: int, size: int, res: int) -> int:
    """Channels at resolution ``res`` of a DCGAN-style net for ``size`` px: base·min(8, size/(2·res)).

    G and D share the rule, so their features at one resolution have matching widths when
    ``ngf == ndf`` (at 64 px: 512 at 4 px, 256 at 8, 128 at 16, 64 at 32).
    """
    return base * min(8, size // (2 * res))


def _attention_res(size: int) -> int:
    return min(size // 2, 64)


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


# ---- networks ---------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """SAGAN's self-attention (Zhang et al. 2019, Sec. 3): x + γ·o with γ starting at 0.

    ``forward`` returns the output and the attention map (N, HW_query, HW_key), rows softmaxed.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, c')
        k = self.key(x).flatten(2)  # (N, c', HW)
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # (N, HW_q, HW_k)
        v = self.value(x).flatten(2)  # (N, C, HW)
        out = torch.bmm(v, attn.transpose(1, 2)).view(n, c, h, w)
        return x + self.gamma * out, attn


class Generator(nn.Module):
    """SAGAN-structured generator with self-attention and reverse-skip inputs.

    ``forward(z, skips)`` maps z (N, z_dim) to images (N, C, size, size) in [-1, 1] and the
    attention saliency (N, 1, size, size): attention received per key position, upsampled.
    ``skips`` maps a resolution to a D feature map (1 or N, C_D, r, r) added after projection.
    """

    def __init__(
        self, z_dim: int, channels: int, size: int, ngf: int, ndf: int, reverse_skip: bool
    ) -> None:
        super().__init__()
        self.size = size
        self.stem = nn.Sequential(
            nn.ConvTranspose2d(z_dim, _level_channels(ngf, size, 4), 4, 1, 0, bias=False),
            nn.BatchNorm2d(_level_channels(ngf, size, 4)),
            nn.ReLU(True),
        )
        self.ups = nn.ModuleDict()
        res = 4
        while res < size // 2:
            cin, cout = _level_channels(ngf, size, res), _level_channels(ngf, size, 2 * res)
            self.ups[str(2 * res)] = nn.Sequential(
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            )
            res *= 2
        self.attn_res = _attention_res(size)
        self.attention = SelfAttention(_level_channels(ngf, size, self.attn_res))
        self.out = nn.Sequential(
            nn.ConvTranspose2d(_level_channels(ngf, size, size // 2), channels, 4, 2, 1), nn.Tanh()
        )
        self.skip_res: tuple[int, ...] = tuple(int(r) for r in self.ups) if reverse_skip else ()
        self.skip_proj = nn.ModuleDict(
            {
                str(r): nn.Conv2d(_level_channels(ndf, size, r), _level_channels(ngf, size, r), 1)
                for r in self.skip_res
            }
        )
        for r in self.skip_res:
            self.register_buffer(
                f"skip_mean_{r}", torch.zeros(1, _level_channels(ndf, size, r), r, r)
            )
        self.register_buffer("skip_seen", torch.zeros((), dtype=torch.long))

    def running_skips(self) -> dict[int, Tensor] | None:
        """The moving averages of D's real-path features (``None`` before any were seen)."""
        if not self.skip_res or int(self.skip_seen) == 0:
            return None
        return {r: getattr(self, f"skip_mean_{r}") for r in self.skip_res}

    @torch.no_grad()
    def update_running_skips(self, skips: Mapping[int, Tensor], decay: float) -> None:
        """Fold one batch's mean features into the moving averages (the first batch is copied)."""
        first = int(self.skip_seen) == 0
        for r in self.skip_res:
            buf = getattr(self, f"skip_mean_{r}")
            new = skips[r].float()
            buf.copy_(new if first else decay * buf + (1.0 - decay) * new)
        self.skip_seen += 1

    def forward(
        self, z: Tensor, skips: Mapping[int, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        h = self.stem(z[:, :, None, None])
        attn: Tensor | None = None
        for key, block in self.ups.items():
            h = block(h)
            res = int(key)
            if skips is not None and res in self.skip_res:
                h = h + self.skip_proj[key](skips[res].to(h.dtype))
            if res == self.attn_res:
                h, attn = self.attention(h)
        assert attn is not None
        image = self.out(h)
        # Saliency of a key position = attention it receives from every query (column sum).
        r = self.attn_res
        saliency = attn.float().sum(dim=1).view(-1, 1, r, r)
        saliency = F.interpolate(saliency, size=(self.size, self.size), mode="nearest")
        return image, saliency


class HierDiscriminator(nn.Module):
    """Image-level encoder plus pixel-level U-Net-style decoder, spectrally normalised (Sec. III-C).

    ``forward(x)`` returns ``(img_logit (N,), pix_logit (N, 1, H, W) or None, features)`` where
    ``features`` maps each encoder resolution (size/2 … 4) to its activation.
    """

    def __init__(self, channels: int, size: int, ndf: int, pixel_branch: bool) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2, True)
        self.downs = nn.ModuleDict()
        cin, res = channels, size
        while res > 4:
            res //= 2
            cout = _level_channels(ndf, size, res)
            self.downs[str(res)] = nn.Sequential(spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), act)
            cin = cout
        self.head = spectral_norm(nn.Conv2d(cin, 1, 4, 1, 0))
        self.pixel_branch = pixel_branch
        self.decoder = nn.ModuleDict()
        if pixel_branch:
            res = 4
            while res < size // 2:
                self.decoder[str(2 * res)] = spectral_norm(
                    nn.Conv2d(
                        _level_channels(ndf, size, res), _level_channels(ndf, size, 2 * res), 1
                    )
                )
                res *= 2
            self.pixel_head = spectral_norm(nn.Conv2d(_level_channels(ndf, size, size // 2), 1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None, dict[int, Tensor]]:
        feats: dict[int, Tensor] = {}
        h = x
        for key, block in self.downs.items():
            h = block(h)
            feats[int(key)] = h
        img = self.head(h).flatten(1).mean(1)
        if not self.pixel_branch:
            return img, None, feats
        for key, conv in self.decoder.items():
            h = F.leaky_relu(
                conv(F.interpolate(h, scale_factor=2.0, mode="nearest")) + feats[int(key)], 0.2
            )
        pix = self.pixel_head(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return img, pix, feats


# ---- the model --------------------------------------------------------------------------------


def _bce(logits: Tensor, target: Tensor | float) -> Tensor:
    if not isinstance(target, Tensor):
        target = torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


class HAGAN(AdversarialModel):
    """HAGAN (see the module docstring for the paper's sections and the readings chosen)."""

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


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="hagan",
            summary="HAGAN: SAGAN generator, AttnMix consistency, hierarchical (image+pixel) D, reverse skip. Unconditional.",
            version="2",
            factory="medganbench_plugins.models.hagan:HAGAN",
            params=(
                Param(
                    "z_dim",
                    0,
                    "noise dimension; 0 = 100 below 256 px, 1000 at 256 px (Sec. IV)",
                    minimum=0,
                ),
                Param("ngf", 64, "generator filters at the last feature level", minimum=1),
                Param("ndf", 64, "discriminator filters at the first level", minimum=1),
                Param("lr_g", 1e-3, "Adam learning rate of G (Sec. IV)", minimum=0.0),
                Param("lr_d", 1e-3, "Adam learning rate of D (Sec. IV)", minimum=0.0),
                Param("adam_beta1", 0.5, "Adam's β1", minimum=0.0),
                Param("adam_beta2", 0.999, "Adam's β2", minimum=0.0),
                Param(
                    "batch_size",
                    32,
                    "images per step (Sec. IV: 32 low-resolution, 2 high)",
                    minimum=1,
                ),
                Param("attnmix", True, "AttnMix mixing and consistency loss (Sec. III-B)"),
                Param("diffaug", True, "DiffAugment in the augmented phase (Sec. III-B)"),
                Param("reverse_skip", True, "Reverse Skip Connection D→G (Sec. III-D)"),
                Param(
                    "pixel_branch", True, "pixel-level branch of the hierarchical D (Sec. III-C)"
                ),
                Param(
                    "two_phase",
                    True,
                    "plain training before the warm-up share, augmented after (Sec. III-E)",
                ),
                Param(
                    "warmup",
                    0.25,
                    "budget share of plain training when two_phase is on",
                    minimum=0.0,
                ),
                Param(
                    "alpha",
                    0.5,
                    "attention share of the mix label: λ=(1-α)λ0+αλ1 (eq. 3-4)",
                    minimum=0.0,
                ),
                Param("beta", 1.0, "weight of G's pixel-level loss (eq. 8)", minimum=0.0),
                Param("beta1", 1.0, "weight of D's pixel-level loss (eq. 7)", minimum=0.0),
                Param("beta2", 1.0, "weight of D's consistency loss (eq. 7)", minimum=0.0),
                Param(
                    "skip_decay",
                    0.99,
                    "EMA decay of the reverse-skip features used at sampling",
                    minimum=0.0,
                ),
            ),
        )
    ]
