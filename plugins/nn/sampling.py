"""Building blocks of the unconditional (noise → image) GANs: noise, DCGAN networks, self-attention.

- :func:`sample_noise`: z ∈ U[-1, 1]^dim, as paper 002 (Sec. IV) and DCGAN (Radford et al. 2016,
  Sec. 4) draw it;
- :class:`DCGANGenerator`: DCGAN's all-convolutional generator (Radford et al. 2016, Fig. 1):
  z is projected to 4×4 by a transposed convolution, then doubled in size by 4×4 stride-2
  transposed convolutions with batch norm and ReLU, ending in tanh;
- :class:`ConvDiscriminator`: the mirror image: 4×4 stride-2 convolutions with LeakyReLU 0.2,
  an optional normalisation (none on the first layer) and a final 4×4 convolution to one logit;
- :class:`SelfAttention`: SAGAN's self-attention block (Zhang et al. 2019, Sec. 3), which either
  network can insert at a chosen feature resolution.

Both networks accept spectral normalisation (Miyato et al. 2018) on every convolution, as SAGAN
uses in generator and discriminator. Weights start from N(0, 0.02) (batch-norm scales from
N(1, 0.02)), DCGAN's initialisation, applied before spectral norm wraps a layer so the
parametrisation's original weight is what is initialised.

Both networks are built for images (``dims=2``, the default: (N, C, S, S)) or for volumes
(``dims=3``: (N, C, S, S, S)) from the same code: every convolution, transposed convolution and
batch norm becomes its 3-D counterpart with 4×4×4 kernels, as in the 3-D GANs built on DCGAN
(Wu et al. 2016's 3D-GAN generator; Kwon et al. 2019's 3-D critic, which HA-GAN's baselines
reuse). Self-attention is built for images only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from medganbench_plugins.nn.init import init_module
from medganbench_plugins.nn.training import to_device

#: Discriminator normalisations: DCGAN's batch norm, layer norm (WGAN-GP's advice for a critic,
#: since batch norm breaks the per-sample gradient penalty), or none (SAGAN relies on spectral
#: norm alone).
D_NORM_KINDS: tuple[str, ...] = ("batch", "layer", "none")

#: Channel multipliers stop at 8·ngf / 8·ndf (DCGAN's widest layer at 64 px), so a 256 px network
#: does not grow to 32·ngf channels at 4×4.
MAX_MULT = 8

#: Image sizes the builders accept: powers of two from 32 to 256.
MIN_SIZE, MAX_SIZE = 32, 256

#: Volume sizes the builders accept (``dims=3``): cubes of a power-of-two side from 16 to 128.
#: 16³ is the smallest cube with a stride-2 stage between 4³ and the output; 128³ is the largest
#: the 3-D baselines of HA-GAN (Sun et al. 2022) are built at (``evaluation/baseline_models/
#: *_128.py`` in its code), a paper whose premise is that GPU memory keeps such dense 3-D GANs
#: at low resolution.
MIN_VOLUME_SIZE, MAX_VOLUME_SIZE = 16, 128


@dataclass(frozen=True)
class ConvLayers:
    """The layer classes of one spatial dimension (2: images, 3: volumes)."""

    conv: type[nn.Conv2d] | type[nn.Conv3d]
    conv_transpose: type[nn.ConvTranspose2d] | type[nn.ConvTranspose3d]
    batch_norm: type[nn.BatchNorm2d] | type[nn.BatchNorm3d]
    #: The range of sizes the builders accept, (smallest, largest).
    sizes: tuple[int, int]


_LAYERS = {
    2: ConvLayers(nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, (MIN_SIZE, MAX_SIZE)),
    3: ConvLayers(
        nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, (MIN_VOLUME_SIZE, MAX_VOLUME_SIZE)
    ),
}


def conv_layers(dims: int) -> ConvLayers:
    """The layer classes and sizes of ``dims`` spatial dimensions.

    Raises:
        ValueError: ``dims`` is neither 2 nor 3.
    """
    try:
        return _LAYERS[dims]
    except KeyError:
        raise ValueError(f"spatial dimensions must be 2 or 3, got {dims}") from None


def sample_noise(n: int, dim: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """Draw ``n`` latent vectors z ∈ U[-1, 1]^dim.

    The numbers are drawn on the CPU with ``generator`` and then moved, so the same generator
    state gives the same z on every device.

    Returns:
        A float32 tensor of shape (n, dim) on ``device``.
    """
    return to_device(torch.rand(n, dim, generator=generator) * 2.0 - 1.0, device)


def check_image_size(image_size: int, dims: int = 2) -> int:
    """Return the number of ×2 stages between 4 and ``image_size`` px (voxels for ``dims=3``).

    Raises:
        ValueError: the size is not a power of two in [32, 256] (images) or [16, 128]
            (volumes), or ``dims`` is neither 2 nor 3.
    """
    low, high = conv_layers(dims).sizes
    if image_size < low or image_size > high or image_size & (image_size - 1):
        kind = "image" if dims == 2 else "volume"
        raise ValueError(
            f"{kind} size must be a power of two from {low} to {high}, got {image_size}"
        )
    return int(math.log2(image_size)) - 2


def _check_attention_res(attention_res: int | None, image_size: int, dims: int) -> None:
    # Attention is placed on an intermediate feature map; the output image itself (or the input)
    # has no channels of its own to attend with.
    if attention_res is None:
        return
    if dims != 2:
        raise ValueError("self-attention is only built for images (dims=2)")
    if attention_res < 4 or attention_res > image_size // 2 or attention_res & (attention_res - 1):
        raise ValueError(
            f"attention resolution must be a power of two from 4 to {image_size // 2}, got {attention_res}"
        )


def dcgan_init(module: nn.Module) -> nn.Module:
    """DCGAN's initialisation, in place: the shared N(0, 0.02) rule
    (:mod:`medganbench_plugins.nn.init`), with the scales of 1-D and 3-D batch norm and of group
    norm drawn like 2-D batch norm's; returns ``module``."""
    return init_module(
        module, scaled_norms=(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm)
    )


def dcgan_layer(module: nn.Module, spectral: bool) -> nn.Module:
    """Initialise a convolution, then wrap it in spectral norm if asked."""
    dcgan_init(module)
    return spectral_norm(module) if spectral else module


class SelfAttention(nn.Module):
    """SAGAN's self-attention (Zhang et al. 2019, Sec. 3, eq. 1–3).

    f(x) = W_f x and g(x) = W_g x (1×1 convolutions to C/8 channels) give the attention
    β_{j,i} = softmax_i(f(x_i)ᵀ g(x_j)) over all N = H·W positions; h(x) = W_h x (C channels)
    is mixed with it and the result added back: y = γ·o + x. γ is learned and starts at 0, so
    the block is the identity at initialisation and the network first relies on local cues.
    """

    def __init__(self, channels: int, spectral: bool = False) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query = dcgan_layer(nn.Conv2d(channels, inner, 1), spectral)
        self.key = dcgan_layer(nn.Conv2d(channels, inner, 1), spectral)
        self.value = dcgan_layer(nn.Conv2d(channels, channels, 1), spectral)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Attend over positions.

        Args:
            x: features, (B, C, H, W).

        Returns:
            ``(y, attention)``: y has x's shape; attention is (B, H·W, H·W) whose row j is the
            distribution over the positions i that output position j attends to (rows sum to 1).
        """
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # (B, C', N)
        k = self.key(x).flatten(2)  # (B, C', N)
        v = self.value(x).flatten(2)  # (B, C, N)
        attention = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)  # (B, N_out, N_in)
        out = torch.bmm(v, attention.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * out + x, attention


class DCGANGenerator(nn.Module):
    """DCGAN generator for a square image of ``image_size`` px (a power of two, 32–256), or with
    ``dims=3`` a cube of ``image_size`` voxels (16–128).

    Channels: ngf·min(2^(k−1), 8) at 4×4 (4³) for k ×2 stages, halving at each stage down to ngf
    before the last transposed convolution to ``out_channels`` with tanh.
    """

    def __init__(
        self,
        image_size: int,
        z_dim: int,
        out_channels: int,
        ngf: int,
        *,
        spectral: bool = False,
        attention_res: int | None = None,
        dims: int = 2,
    ) -> None:
        super().__init__()
        nd = conv_layers(dims)
        stages = check_image_size(image_size, dims)
        _check_attention_res(attention_res, image_size, dims)
        self.z_dim = z_dim
        self.dims = dims
        widths = [ngf * min(2 ** (stages - 1 - i), MAX_MULT) for i in range(stages)]
        # widths[i] is the channel count at resolution 4·2^i (i < stages); the image follows.
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(
                    dcgan_layer(nd.conv_transpose(z_dim, widths[0], 4, 1, 0, bias=False), spectral),
                    dcgan_init(nd.batch_norm(widths[0])),
                    nn.ReLU(True),
                )
            ]
        )
        for i in range(1, stages):
            self.blocks.append(
                nn.Sequential(
                    dcgan_layer(
                        nd.conv_transpose(widths[i - 1], widths[i], 4, 2, 1, bias=False),
                        spectral,
                    ),
                    dcgan_init(nd.batch_norm(widths[i])),
                    nn.ReLU(True),
                )
            )
        self.to_image = nn.Sequential(
            dcgan_layer(nd.conv_transpose(widths[-1], out_channels, 4, 2, 1), spectral),
            nn.Tanh(),
        )
        self.attention_index = -1
        self.attention: SelfAttention | None = None
        if attention_res is not None:
            self.attention_index = int(math.log2(attention_res)) - 2
            self.attention = SelfAttention(widths[self.attention_index], spectral)

    def forward(self, z: Tensor) -> Tensor:
        """z of shape (N, z_dim) → images (N, out_channels, S, S) in [-1, 1] (volumes
        (N, out_channels, S, S, S) for ``dims=3``)."""
        x = z.view(z.shape[0], self.z_dim, *(1,) * self.dims)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == self.attention_index and self.attention is not None:
                x, _ = self.attention(x)
        return self.to_image(x)


class ConvDiscriminator(nn.Module):
    """Strided-convolution discriminator (critic) returning one raw logit per image.

    Resolution halves from S to 4 with channels ndf·min(2^i, 8); no normalisation on the first
    layer (DCGAN, Sec. 3); LeakyReLU 0.2 everywhere; a final 4×4 valid convolution to 1. With
    ``dims=3`` it scores volumes: 4³ kernels, S³ down to 4³.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        ndf: int,
        *,
        norm: str = "batch",
        spectral: bool = False,
        attention_res: int | None = None,
        dims: int = 2,
    ) -> None:
        super().__init__()
        nd = conv_layers(dims)
        stages = check_image_size(image_size, dims)
        _check_attention_res(attention_res, image_size, dims)
        if norm not in D_NORM_KINDS:
            raise ValueError(
                f"unknown discriminator norm {norm!r}; expected one of {', '.join(D_NORM_KINDS)}"
            )
        widths = [ndf * min(2**i, MAX_MULT) for i in range(stages)]
        self.blocks = nn.ModuleList()
        channels = in_channels
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [
                dcgan_layer(
                    nd.conv(channels, width, 4, 2, 1, bias=norm == "none" or i == 0), spectral
                )
            ]
            if i > 0 and norm == "batch":
                layers.append(dcgan_init(nd.batch_norm(width)))
            elif i > 0 and norm == "layer":
                # GroupNorm with one group normalises each sample over (C, H, W), or (C, D, H, W)
                # for volumes: layer norm, independent of the other samples, as the gradient
                # penalty needs.
                layers.append(dcgan_init(nn.GroupNorm(1, width)))
            layers.append(nn.LeakyReLU(0.2, True))
            self.blocks.append(nn.Sequential(*layers))
            channels = width
        self.to_logit = dcgan_layer(nd.conv(channels, 1, 4, 1, 0), spectral)
        self.attention_index = -1
        self.attention: SelfAttention | None = None
        if attention_res is not None:
            # Block i outputs resolution S / 2^(i+1).
            self.attention_index = int(math.log2(image_size // attention_res)) - 1
            self.attention = SelfAttention(widths[self.attention_index], spectral)

    def encode(self, x: Tensor) -> list[Tensor]:
        """Images (N, C, S, S) (volumes (N, C, S, S, S)) → the output of every block, finest
        first (S/2 … 4 px).

        The last entry is what :attr:`to_logit` scores; InfoGAN's Q-head and the U-Net
        discriminator's decoder read these features too.
        """
        features: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == self.attention_index and self.attention is not None:
                x, _ = self.attention(x)
            features.append(x)
        return features

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, C, S, S) or volumes (N, C, S, S, S) → logits (N,)."""
        return self.to_logit(self.encode(x)[-1]).flatten()
