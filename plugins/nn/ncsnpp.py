"""NCSN++ with adaptive group norm: the x₀-predicting generator of DDGAN and SynDiff.

The network of SynDiff's ``backbones/ncsnpp_generator_adagn.py`` (Özbey et al., IEEE TMI 2023;
itself DDGAN's, Xiao et al., ICLR 2022, adapted from Song et al.'s NCSN++) in the configuration
SynDiff trains: BigGAN-style residual blocks, FIR resampling with [1, 3, 3, 1], residual input
pyramid (``progressive_input=residual``), no output pyramid, skip connections rescaled by 1/√2,
positional (sinusoidal) embedding of the integer timestep, conditional on it, tanh output.
Written here from that code:

- time: sinusoidal embedding of t (``nf`` dims) → dense 4·nf → swish → dense 4·nf;
- latent z: pixel norm → dense ``z_emb_dim`` → swish, then ``n_mlp`` × (dense, swish);
- every residual block: AdaGN(z)–swish–[FIR ×2 or ÷2 on both paths]–conv3×3, plus a dense
  projection of swish(temb), then AdaGN(z)–swish–conv3×3 (initial scale ≈ 0), a 1×1 convolution
  on the skip where the width or size changes, and (skip + h)/√2. AdaGN is an affine-free group
  norm (min(C/4, 32) groups, ε 1e-6) whose per-channel scale and shift are a dense map of the
  latent embedding, its bias starting at scale 1 and shift 0;
- down path: a 3×3 stem to ``nf``; per level ``num_res_blocks`` blocks (self-attention after each
  at ``attn_resolutions``); between levels a downsampling block, and the input pyramid (the
  network input, FIR-downsampled by a fused 3×3 convolution to the level's width at every level)
  added to it, rescaled by 1/√2;
- middle: block, attention, block; up path: ``num_res_blocks + 1`` blocks per level fed the
  concatenation with the matching down activation, attention once per level at its resolutions,
  an upsampling block between levels; group norm, swish, a 3×3 output convolution (initial
  scale ≈ 0), tanh.

Attention is single-head over all positions with separate q, k, v, output projections (1×1;
q/k/v at initial scale 0.1, output ≈ 0), (x + h)/√2. Initialisation is the authors':
:func:`~medganbench_plugins.nn.variance_scaling.fan_avg_init_` for convolutions, the time MLP,
the blocks' time projections and attention; the fan_out rule of DDGAN's ``dense`` for the latent
mapping and the AdaGN projections. The authors' NIN attention layers (x @ W, W of shape
(in, out)) are 1×1 convolutions here, weight = Wᵀ. Dropout (0 in SynDiff) is not built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench_plugins.nn.diffusion_unet import timestep_embedding
from medganbench_plugins.nn.fir import FIR_KERNEL, FirDownConv, downsample_2d, upsample_2d
from medganbench_plugins.nn.variance_scaling import fan_avg_init_, fan_out_init_

#: ε of every group norm (the authors').
GN_EPS = 1e-6
SQRT2 = math.sqrt(2.0)


def groups(channels: int) -> int:
    """Group count of the authors' group norms: min(C // 4, 32)."""
    return min(channels // 4, 32)


def conv3x3(cin: int, cout: int, scale: float = 1.0) -> nn.Conv2d:
    return fan_avg_init_(nn.Conv2d(cin, cout, 3, padding=1), scale)


def conv1x1(cin: int, cout: int, scale: float = 1.0) -> nn.Conv2d:
    return fan_avg_init_(nn.Conv2d(cin, cout, 1), scale)


class PixelNorm(nn.Module):
    """x / √(mean over features of x² + 1e-8)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class AdaptiveGroupNorm(nn.Module):
    """Affine-free group norm, then a per-channel scale and shift predicted from a style vector."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups(channels), channels, eps=GN_EPS, affine=False)
        self.style = fan_out_init_(nn.Linear(style_dim, 2 * channels))
        with torch.no_grad():
            self.style.bias[:channels] = 1.0  # scale starts at 1, shift at 0

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        gamma, beta = self.style(style)[:, :, None, None].chunk(2, dim=1)
        return gamma * self.norm(x) + beta


class ResBlock(nn.Module):
    """BigGAN++ residual block with adaptive group norms (``ResnetBlockBigGANpp_Adagn``).

    Args:
        cin, cout: input and output width.
        temb_dim: width of the time embedding.
        zemb_dim: width of the latent embedding.
        resample: ``"up"`` (FIR ×2), ``"down"`` (FIR ÷2) or ``None``.
    """

    def __init__(
        self, cin: int, cout: int, temb_dim: int, zemb_dim: int, resample: str | None = None
    ) -> None:
        super().__init__()
        self.resample = resample
        self.norm0 = AdaptiveGroupNorm(cin, zemb_dim)
        self.conv0 = conv3x3(cin, cout)
        self.temb = fan_avg_init_(nn.Linear(temb_dim, cout))
        self.norm1 = AdaptiveGroupNorm(cout, zemb_dim)
        self.conv1 = conv3x3(cout, cout, scale=0.0)
        self.skip = conv1x1(cin, cout) if cin != cout or resample else None

    def forward(self, x: Tensor, temb: Tensor, zemb: Tensor) -> Tensor:
        h = F.silu(self.norm0(x, zemb))
        if self.resample == "up":
            h, x = upsample_2d(h, FIR_KERNEL), upsample_2d(x, FIR_KERNEL)
        elif self.resample == "down":
            h, x = downsample_2d(h, FIR_KERNEL), downsample_2d(x, FIR_KERNEL)
        h = self.conv0(h) + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv1(F.silu(self.norm1(h, zemb)))
        if self.skip is not None:
            x = self.skip(x)
        return (x + h) / SQRT2


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions (``AttnBlockpp``), (x + h)/√2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups(channels), channels, eps=GN_EPS)
        self.q = conv1x1(channels, channels, 0.1)
        self.k = conv1x1(channels, channels, 0.1)
        self.v = conv1x1(channels, channels, 0.1)
        self.out = conv1x1(channels, channels, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape
        h = self.norm(x)
        # (N, 1, HW, C): softmax(q kᵀ / √C) v, as the authors' einsums compute it.
        q, k, v = (proj(h).flatten(2).transpose(1, 2)[:, None] for proj in (self.q, self.k, self.v))
        a = F.scaled_dot_product_attention(q, k, v)[:, 0].transpose(1, 2)
        return (x + self.out(a.reshape(n, c, height, width))) / SQRT2


class _Level(nn.Module):
    """One residual block, then attention where the level has it."""

    def __init__(self, block: ResBlock, width: int, attention: bool) -> None:
        super().__init__()
        self.block = block
        self.attn = AttnBlock(width) if attention else None

    def forward(self, x: Tensor, temb: Tensor, zemb: Tensor) -> Tensor:
        h = self.block(x, temb, zemb)
        return self.attn(h) if self.attn is not None else h


class NCSNpp(nn.Module):
    """G(x, t, z): images (N, C_in, S, S), integer steps (N,), latents (N, nz) → (N, C_out, S, S).

    Args:
        image_size: side S; must be divisible by 2^(len(ch_mult) − 1).
        in_channels: input channels (SynDiff: x_{t+1} and the source image, concatenated).
        out_channels: output channels (the authors' network outputs as many as it takes in).
        nf: base width (``num_channels_dae``).
        ch_mult: width multiplier per level.
        num_res_blocks: residual blocks per level on the way down.
        attn_resolutions: resolutions (px) with self-attention.
        nz: latent dimension.
        z_emb_dim: width of the latent embedding.
        n_mlp: dense layers of the latent mapping after the first.

    Raises:
        ValueError: ``image_size`` is not divisible by 2^(len(ch_mult) − 1).
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        out_channels: int,
        nf: int = 64,
        ch_mult: Sequence[int] = (1, 1, 2, 2, 4, 4),
        num_res_blocks: int = 2,
        attn_resolutions: Sequence[int] = (16,),
        nz: int = 100,
        z_emb_dim: int = 256,
        n_mlp: int = 3,
    ) -> None:
        super().__init__()
        levels = len(ch_mult)
        if image_size % 2 ** (levels - 1):
            raise ValueError(
                f"image size {image_size} is not divisible by 2^{levels - 1} (ch_mult {tuple(ch_mult)})"
            )
        self.nf = nf
        temb_dim = 4 * nf
        self.temb = nn.ModuleList(
            [fan_avg_init_(nn.Linear(nf, temb_dim)), fan_avg_init_(nn.Linear(temb_dim, temb_dim))]
        )
        mapping: list[nn.Module] = [PixelNorm(), fan_out_init_(nn.Linear(nz, z_emb_dim)), nn.SiLU()]
        for _ in range(n_mlp):
            mapping += [fan_out_init_(nn.Linear(z_emb_dim, z_emb_dim)), nn.SiLU()]
        self.z_transform = nn.Sequential(*mapping)

        def block(cin: int, cout: int, resample: str | None = None) -> ResBlock:
            return ResBlock(cin, cout, temb_dim, z_emb_dim, resample)

        self.conv_in = conv3x3(in_channels, nf)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        self.pyramid = nn.ModuleList()
        widths, width, pyramid_width = [nf], nf, in_channels
        for level, mult in enumerate(ch_mult):
            res = image_size >> level
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(_Level(block(width, nf * mult), nf * mult, res in attn_resolutions))
                width = nf * mult
                widths.append(width)
            self.down.append(blocks)
            if level != levels - 1:
                self.downsample.append(block(width, width, "down"))
                self.pyramid.append(FirDownConv(pyramid_width, width))
                pyramid_width = width
                widths.append(width)
        self.mid = nn.ModuleList([block(width, width), AttnBlock(width), block(width, width)])
        self.up = nn.ModuleList()
        self.up_attn = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(levels)):
            mult = ch_mult[level]
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(block(width + widths.pop(), nf * mult))
                width = nf * mult
            self.up.append(blocks)
            attention = (image_size >> level) in attn_resolutions
            self.up_attn.append(AttnBlock(width) if attention else nn.Identity())
            if level != 0:
                self.upsample.append(block(width, width, "up"))
        self.norm_out = nn.GroupNorm(groups(width), width, eps=GN_EPS)
        self.conv_out = conv3x3(width, out_channels, scale=0.0)

    def forward(self, x: Tensor, t: Tensor, z: Tensor) -> Tensor:
        zemb = self.z_transform(z)
        temb = self.temb[1](F.silu(self.temb[0](timestep_embedding(t, self.nf))))
        pyramid = x
        hs = [self.conv_in(x)]
        for level, blocks in enumerate(self.down):
            for layer in blocks:  # type: ignore[attr-defined]  # a ModuleList
                hs.append(layer(hs[-1], temb, zemb))
            if level < len(self.downsample):
                h = self.downsample[level](hs[-1], temb, zemb)
                pyramid = (self.pyramid[level](pyramid) + h) / SQRT2
                hs.append(pyramid)
        h = hs[-1]
        h = self.mid[2](self.mid[1](self.mid[0](h, temb, zemb)), temb, zemb)
        for index, blocks in enumerate(self.up):
            for layer in blocks:  # type: ignore[attr-defined]  # a ModuleList
                h = layer(torch.cat([h, hs.pop()], dim=1), temb, zemb)
            h = self.up_attn[index](h)
            if index < len(self.upsample):
                h = self.upsample[index](h, temb, zemb)
        return torch.tanh(self.conv_out(F.silu(self.norm_out(h))))
