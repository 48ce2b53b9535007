"""The noise-prediction U-Net of DDPM (Ho, Jain & Abbeel, NeurIPS 2020, Sec. 4 and Appendix B).

The layout of the authors' CIFAR-10 model, written here from the paper's description:

- a sinusoidal embedding of the timestep t (Transformer-style, ``ch`` dimensions), then two
  dense layers of 4·``ch`` with a swish between them;
- a 3×3 input convolution to ``ch`` channels, then per resolution level (channel multipliers
  ``ch_mult``) ``num_res_blocks`` residual blocks, self-attention after each block at the
  resolutions in ``attn_res``, and a stride-2 3×3 convolution between levels;
- a middle of residual block, attention, residual block;
- the mirror image upwards with ``num_res_blocks + 1`` residual blocks per level, each fed the
  concatenation with the matching downward activation, and nearest-neighbour ×2 upsampling
  followed by a 3×3 convolution between levels;
- group normalisation (32 groups), swish, a 3×3 output convolution to the image channels.

A residual block is GN–swish–conv3×3, plus a dense projection of the time embedding, then
GN–swish–dropout–conv3×3, with a 1×1 convolution on the skip where the width changes. An
attention block is GN, 1×1 q/k/v, softmax(qᵀk/√C) over all positions, a 1×1 output projection,
residual. Initialisation follows the authors' code: every convolution and dense layer draws from
a uniform variance-scaling distribution with fan_avg (Xavier uniform), the last convolution of
each residual block, the attention output and the network's output with scale 1e-10 (so each
block starts near the identity), biases zero.

``ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_res=(16,)`` is the CIFAR-10 model: at
64 px with one channel it has 35,741,697 parameters (HAGAN Table I: DDPM 35.7 M).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench_plugins.nn.variance_scaling import ZERO_SCALE, fan_avg_init_

GROUPS = 32
# Uniform variance scaling with fan_avg (plugins/nn/variance_scaling.py, shared with NCSN++).
_init = fan_avg_init_


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, scale: float = 1.0) -> nn.Module:
    return _init(nn.Conv2d(cin, cout, k, stride, k // 2), scale)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(GROUPS, channels), channels)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer timesteps (N,) → (N, dim): [sin, cos] at geometric rates."""
    half = dim // 2
    rates = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / (half - 1))
    angles = t.float()[:, None] * rates[None]
    emb = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(emb, (0, dim % 2))


class ResBlock(nn.Module):
    """Residual block with the time embedding added between its two convolutions."""

    def __init__(self, cin: int, cout: int, temb: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), _conv(cin, cout)
        self.temb = _init(nn.Linear(temb, cout))
        self.norm2, self.drop = _norm(cout), nn.Dropout(dropout)
        self.conv2 = _conv(cout, cout, scale=ZERO_SCALE)
        self.skip = _conv(cin, cout, k=1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = _conv(channels, 3 * channels, k=1)
        self.out = _conv(channels, channels, k=1, scale=ZERO_SCALE)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)  # (N, C, HW) each
        weights = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c), dim=-1)
        out = torch.bmm(v, weights.transpose(1, 2)).view(n, c, h, w)
        return x + self.out(out)


class DiffusionUNet(nn.Module):
    """ε_θ(x_t, t): images (N, C, S, S) and timesteps (N,) → predicted noise (N, C, S, S).

    Args:
        image_size: side of the square input; must be divisible by 2^(len(ch_mult) − 1).
        channels: image channels (input and output).
        ch: base width.
        ch_mult: width multiplier per resolution level.
        num_res_blocks: residual blocks per level on the way down.
        attn_res: resolutions (px) with self-attention.
        dropout: dropout rate inside residual blocks.
        cond_channels: channels of a conditioning image concatenated to x_t along the channels
            before the input convolution (SR3/Palette's conditioning; 0: unconditional). The
            network then takes (N, C + cond_channels, S, S) and still predicts (N, C, S, S).
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        ch: int = 128,
        ch_mult: tuple[int, ...] = (1, 2, 2, 2),
        num_res_blocks: int = 2,
        attn_res: tuple[int, ...] = (16,),
        dropout: float = 0.1,
        cond_channels: int = 0,
    ) -> None:
        super().__init__()
        if image_size % 2 ** (len(ch_mult) - 1):
            raise ValueError(
                f"image size {image_size} is not divisible by 2^{len(ch_mult) - 1} (ch_mult {ch_mult})"
            )
        self.ch = ch
        temb = 4 * ch
        self.temb = nn.Sequential(
            _init(nn.Linear(ch, temb)), nn.SiLU(), _init(nn.Linear(temb, temb))
        )
        self.conv_in = _conv(channels + cond_channels, ch)
        self.down = nn.ModuleList()
        widths, width, res = [ch], ch, image_size
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(
                    _Level(ResBlock(width, ch * mult, temb, dropout), ch * mult, res in attn_res)
                )
                width = ch * mult
                widths.append(width)
            if level != len(ch_mult) - 1:
                self.down.append(_conv(width, width, stride=2))
                widths.append(width)
                res //= 2
        self.mid1 = ResBlock(width, width, temb, dropout)
        self.mid_attn = AttnBlock(width)
        self.mid2 = ResBlock(width, width, temb, dropout)
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                skip = widths.pop()
                self.up.append(
                    _Level(
                        ResBlock(width + skip, ch * mult, temb, dropout), ch * mult, res in attn_res
                    )
                )
                width = ch * mult
            if level != 0:
                self.up.append(_Upsample(width))
                res *= 2
        self.norm_out = _norm(width)
        self.conv_out = _conv(width, channels, scale=ZERO_SCALE)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        temb = self.temb(timestep_embedding(t, self.ch))
        h = self.conv_in(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, temb) if isinstance(layer, _Level) else layer(h)
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for layer in self.up:
            if isinstance(layer, _Level):
                h = layer(torch.cat([h, skips.pop()], dim=1), temb)
            else:
                h = layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class _Level(nn.Module):
    """A residual block, followed by attention at the resolutions that have it."""

    def __init__(self, block: ResBlock, width: int, attention: bool) -> None:
        super().__init__()
        self.block = block
        self.attn = AttnBlock(width) if attention else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        return self.attn(self.block(x, temb))


class _Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = _conv(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
