"""The time-conditioned discriminator of DDGAN and SynDiff: D(x_t, t, x_{t+1}) → one logit.

SynDiff's training script builds ``Discriminator_large`` (DDGAN's discriminator for large
images; ``backbones/discriminator.py``) for both diffusive discriminators at every image size,
with ``nc`` = 2 (x_t and x_{t+1} of one-channel images), ``ngf`` 64, ``t_emb_dim`` 256 and
LeakyReLU(0.2). Written here from that code:

- t: sinusoidal embedding (``t_emb_dim``) → dense → LeakyReLU → dense, then LeakyReLU;
- (x_t, x_{t+1}) concatenated → 1×1 convolution to 2·ngf;
- down blocks (widths 4, 8, 8, 8, 8, 8 × ngf): LeakyReLU–conv3×3, plus a dense projection of
  the time embedding, LeakyReLU, FIR ÷2 ([1, 3, 3, 1]) on both paths, conv3×3 (initial scale
  ≈ 0); a bias-free 1×1 convolution on the skip; (skip + h)/√2;
- minibatch standard deviation (groups of min(N, 4), one feature) appended as a channel;
  conv3×3 to 8·ngf, LeakyReLU, sum over positions, dense to one logit.

Every layer starts by DDGAN's ``dense``/``conv2d`` rule
(:func:`~medganbench_plugins.nn.variance_scaling.fan_out_init_`), biases at zero.

Readings: the authors' six downsampling blocks take a 256 px input to 4×4 and a 64 px one to
1×1; a 32 px input cannot take six, so the number of blocks is min(6, log₂ S) (the first ones
kept), which is the authors' network at every size from 64 px up. Their minibatch-deviation
layer needs the batch divisible by its group of min(N, 4); where it is not, the group here is
the largest divisor of N not above 4 (the authors' code stops with an error).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from medganbench_plugins.nn.diffusion_unet import timestep_embedding
from medganbench_plugins.nn.fir import FIR_KERNEL, downsample_2d
from medganbench_plugins.nn.variance_scaling import fan_out_init_

#: Width multipliers (× ngf) of the authors' six down blocks.
BLOCK_MULTS: tuple[int, ...] = (4, 8, 8, 8, 8, 8)
STDDEV_GROUP = 4
SQRT2 = math.sqrt(2.0)


def block_count(image_size: int) -> int:
    """Down blocks at ``image_size``: min(6, log₂ S), so the last map is at least 1×1."""
    return min(len(BLOCK_MULTS), int(math.log2(image_size)))


def _conv(cin: int, cout: int, k: int, scale: float = 1.0, bias: bool = True) -> nn.Conv2d:
    return fan_out_init_(nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias), scale)


class DownConvBlock(nn.Module):
    """Residual block with a time-embedding bias and FIR ÷2 (``DownConvBlock``)."""

    def __init__(self, cin: int, cout: int, t_emb_dim: int, act: nn.Module) -> None:
        super().__init__()
        self.act = act
        self.conv1 = _conv(cin, cout, 3)
        self.conv2 = _conv(cout, cout, 3, scale=0.0)
        self.dense_t1 = fan_out_init_(nn.Linear(t_emb_dim, cout))
        self.skip = _conv(cin, cout, 1, bias=False)

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(self.act(x)) + self.dense_t1(temb)[..., None, None]
        h = downsample_2d(self.act(h), FIR_KERNEL)
        x = downsample_2d(x, FIR_KERNEL)
        return (self.conv2(h) + self.skip(x)) / SQRT2


def minibatch_stddev(x: Tensor, group: int = STDDEV_GROUP) -> Tensor:
    """Append the mean standard deviation over groups of images as one more channel."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(n, group) + 1) if n % d == 0)
    std = torch.sqrt(x.view(g, -1, 1, c, h, w).var(0, unbiased=False) + 1e-8)
    std = std.mean(dim=(2, 3, 4), keepdim=True).squeeze(2)  # (N/g, 1, 1, 1)
    return torch.cat([x, std.repeat(g, 1, h, w)], dim=1)


class DiffusionDiscriminator(nn.Module):
    """D(x_t, t, x_{t+1}): two (N, C, S, S) images and integer steps (N,) → logits (N, 1).

    Args:
        image_size: side S (sets the number of down blocks, :func:`block_count`).
        channels: channels of x_t plus those of x_{t+1} (the authors' ``nc``).
        ngf: base width.
        t_emb_dim: width of the time embedding.
    """

    def __init__(self, image_size: int, channels: int, ngf: int = 64, t_emb_dim: int = 256) -> None:
        super().__init__()
        self.act = nn.LeakyReLU(0.2)
        self.t_emb_dim = t_emb_dim
        self.t_embed = nn.Sequential(
            fan_out_init_(nn.Linear(t_emb_dim, t_emb_dim)),
            nn.LeakyReLU(0.2),
            fan_out_init_(nn.Linear(t_emb_dim, t_emb_dim)),
        )
        self.start_conv = _conv(channels, ngf * 2, 1)
        width, blocks = ngf * 2, []
        for mult in BLOCK_MULTS[: block_count(image_size)]:
            blocks.append(DownConvBlock(width, ngf * mult, t_emb_dim, self.act))
            width = ngf * mult
        self.blocks = nn.ModuleList(blocks)
        self.final_conv = _conv(width + 1, width, 3)
        self.end_linear = fan_out_init_(nn.Linear(width, 1))

    def forward(self, x_t: Tensor, t: Tensor, x_tp1: Tensor) -> Tensor:
        temb = self.act(self.t_embed(timestep_embedding(t, self.t_emb_dim)))
        h = self.start_conv(torch.cat([x_t, x_tp1], dim=1))
        for block in self.blocks:
            h = block(h, temb)
        h = self.act(self.final_conv(minibatch_stddev(h)))
        return self.end_linear(h.sum(dim=(2, 3)))
