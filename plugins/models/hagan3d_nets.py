"""HA-GAN's networks (Sun et al. 2022): the hierarchical generator, the two-branch discriminator,
the sub-volume encoder and the sub-encoder, for volumes of side S ∈ :data:`SIZES`.

- :class:`Generator`: the shared trunk G^A (noise → latent feature volume of side S/4), the
  high-resolution head G^H (latent features → volume, ×4 per side) and the low-resolution head
  G^L (:class:`SubGenerator`, latent features → S/4 volume).
- :class:`Discriminator`: D^H (:class:`HighResDiscriminator`) on a sub-volume of S/8 slices plus
  its crop index, D^L (:class:`SubDiscriminator`) on the S/4 volume; the logits are averaged.
- :class:`Encoder` (E^H): a sub-volume of S/8 slices → latent features of G^H's input width.
- :class:`SubEncoder` (E^G): the latent feature volume (S/4 per side) → a noise vector.

At S = 128 and S = 256 (default widths) every network has the layers of the authors'
``Model_HA_GAN_128.py`` / ``Model_HA_GAN_256.py``; the rule that builds the other sizes, and
every reading, is in :mod:`medganbench_plugins.models.hagan3d`. Not a plugin module: it
registers nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "LATENT_STRIDE",
    "SIZES",
    "Discriminator",
    "Encoder",
    "Generator",
    "HighResDiscriminator",
    "SubDiscriminator",
    "SubEncoder",
    "SubGenerator",
    "crop_limit",
    "levels",
    "low_res_volume",
]

#: Volume sides the networks are built for.
SIZES: tuple[int, ...] = (32, 64, 128, 256)

#: Voxels of the output per voxel of the latent feature volume, per side (G^H upsamples ×2
#: twice); a crop starting at slice k uses latent slices from ⌊k / 4⌋, as the authors' code does.
LATENT_STRIDE = 4

#: Groups of every group norm (the authors' ``nn.GroupNorm(8, ·)``).
GROUPS = 8

#: Leaky-ReLU slope of the discriminators.
SLOPE = 0.2

#: D^H's strided convolutions at S = 256 (the authors' 256-px ``Discriminator.conv1``–``conv6``):
#: (D's width ÷ this = output width, kernel, stride, padding). A smaller S drops leading ones.
_HIGH_RES_STACK: tuple[
    tuple[int, tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]], ...
] = (
    (32, (4, 4, 4), (2, 2, 2), (1, 1, 1)),
    (16, (4, 4, 4), (2, 2, 2), (1, 1, 1)),
    (8, (4, 4, 4), (2, 2, 2), (1, 1, 1)),
    (4, (2, 4, 4), (2, 2, 2), (0, 1, 1)),
    (2, (2, 4, 4), (2, 2, 2), (0, 1, 1)),
    (1, (1, 4, 4), (1, 2, 2), (0, 1, 1)),
)

#: Output widths (the network's width ÷ this) of the stride-2 convolutions of D^L and of the
#: sub-encoder at S = 256 (the authors' 256-px ``conv1``–``conv4``); a smaller S drops leading ones.
_PYRAMID_STACK: tuple[int, ...] = (8, 4, 2, 1)


def levels(size: int) -> int:
    """log2(S / 16): the ×2 upsamplings of G^A (4³ → (S/4)³), and the stride-2 convolutions of
    D^L and of the sub-encoder ((S/4)³ → 4³). 1, 2, 3, 4 at S = 32, 64, 128, 256.

    Raises:
        ValueError: ``size`` is not one of :data:`SIZES`.
    """
    if size not in SIZES:
        raise ValueError(f"HA-GAN networks exist for sizes {SIZES}, not {size}")
    return size.bit_length() - 5


def crop_limit(size: int) -> int:
    """The largest crop index, S·7/8 (112 at S = 128): crops start in [0, S·7/8] and span S/8."""
    return size * 7 // 8


def _conv3(cin: int, cout: int) -> nn.Conv3d:
    return nn.Conv3d(cin, cout, kernel_size=3, stride=1, padding=1, bias=True)


def _norm_relu(width: int) -> list[nn.Module]:
    return [nn.GroupNorm(GROUPS, width), nn.ReLU()]


class SubGenerator(nn.Module):
    """G^L: three 3³ convolutions at the latent resolution, (4w → 2w → w → C), group norm and
    ReLU between, tanh out. ``width`` is the authors' ``Sub_Generator(channel=16)``."""

    def __init__(self, width: int, out_channels: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv3(4 * width, 2 * width),
            *_norm_relu(2 * width),
            _conv3(2 * width, width),
            *_norm_relu(width),
            _conv3(width, out_channels),
            nn.Tanh(),
        )

    def forward(self, h: Tensor) -> Tensor:
        out: Tensor = self.net(h)
        return out


class Generator(nn.Module):
    """G = (G^A, G^H, G^L) of width ``channels`` (the authors' ``Generator(channel=32)``).

    G^A: a linear layer to a 4³ × 16c volume, then five 3³ convolutions (16c, 16c, 8c, 4c, 2c
    outputs), each with group norm and ReLU; nearest ×2 upsampling precedes the first
    :func:`levels` (S) of convolutions 2–5, so the latent features are (2c, S/4, S/4, S/4).
    G^H: upsample, 3³ convolution to c, group norm, ReLU, upsample, 3³ convolution to C, tanh.
    G^L: :class:`SubGenerator` of width c/2.
    """

    def __init__(
        self, size: int, latent_dim: int = 1024, channels: int = 32, out_channels: int = 1
    ) -> None:
        super().__init__()
        c = channels
        self.size = size
        self.base = 16 * c
        self.fc = nn.Linear(latent_dim, 4 * 4 * 4 * self.base)
        widths = (16 * c, 16 * c, 16 * c, 8 * c, 4 * c, 2 * c)
        ups = levels(size)
        trunk: list[nn.Module] = []
        for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if 1 <= index <= ups:
                trunk.append(nn.Upsample(scale_factor=2, mode="nearest"))
            trunk += [_conv3(cin, cout), *_norm_relu(cout)]
        self.trunk = nn.Sequential(*trunk)
        self.high_res = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv3(2 * c, c),
            *_norm_relu(c),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv3(c, out_channels),
            nn.Tanh(),
        )
        self.low_res = SubGenerator(c // 2, out_channels)

    def latent(self, z: Tensor) -> Tensor:
        """G^A: noise (N, latent_dim) → latent features (N, 2c, S/4, S/4, S/4)."""
        h: Tensor = self.trunk(self.fc(z).view(-1, self.base, 4, 4, 4))
        return h

    def decode(self, h: Tensor) -> Tensor:
        """G^H: latent features (N, 2c, d, h, w) → a volume (N, C, 4d, 4h, 4w) in [-1, 1]."""
        out: Tensor = self.high_res(h)
        return out

    def crop(self, z: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """The training path: the sub-volume (N, C, S/8, S, S) G^H makes from latent slices
        ⌊start/4⌋ … ⌊start/4⌋ + S/32 − 1, and G^L's whole low-resolution volume (N, C, S/4, S/4, S/4)."""
        h = self.latent(z)
        first = start // LATENT_STRIDE
        depth = self.size // (8 * LATENT_STRIDE)
        return self.decode(h[:, :, first : first + depth]), self.low_res(h)

    def forward(self, z: Tensor) -> Tensor:
        """The full-volume path G^A → G^H: (N, latent_dim) → (N, C, S, S, S) in [-1, 1]."""
        return self.decode(self.latent(z))


def _sn_conv(
    cin: int,
    cout: int,
    kernel: int | tuple[int, int, int],
    stride: int | tuple[int, int, int],
    padding: int | tuple[int, int, int],
) -> nn.Module:
    return spectral_norm(nn.Conv3d(cin, cout, kernel, stride, padding))


class SubDiscriminator(nn.Module):
    """D^L on the (S/4)³ volume: spectrally normalised stride-2 4³ convolutions (the last
    :func:`levels` (S) of widths w/8, w/4, w/2, w) with leaky ReLU 0.2, then a 4³ convolution to
    one logit. ``width`` is the authors' ``Sub_Discriminator(channel=256)``."""

    def __init__(self, size: int, width: int = 256, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for divisor in _PYRAMID_STACK[len(_PYRAMID_STACK) - levels(size) :]:
            layers += [_sn_conv(cin, width // divisor, 4, 2, 1), nn.LeakyReLU(SLOPE)]
            cin = width // divisor
        layers.append(_sn_conv(cin, 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        """(N, C, S/4, S/4, S/4) → logits (N, 1)."""
        out: Tensor = self.net(h)
        return out.flatten(1)


class HighResDiscriminator(nn.Module):
    """D^H on a sub-volume (N, C, S/8, S, S) and its crop index.

    The authors' 256-px stack of six strided convolutions (:data:`_HIGH_RES_STACK`) less its
    first log2(256/S) (the first one kept reads the image channels), then a (1, 4, 4)
    convolution to w/4 features at 1³; every convolution is followed by leaky ReLU 0.2. The
    features and the crop index ÷ (S·7/8) go through two linear layers (w/4 + 1 → w/8 → 1).
    Every layer is spectrally normalised. ``width`` is the authors' ``Discriminator(channel=512)``.
    """

    def __init__(self, size: int, width: int = 512, in_channels: int = 1) -> None:
        super().__init__()
        self.crop_scale = float(crop_limit(size))
        drop = len(_HIGH_RES_STACK) - (levels(size) + 2)
        layers: list[nn.Module] = []
        cin = in_channels
        for divisor, kernel, stride, padding in _HIGH_RES_STACK[drop:]:
            layers += [
                _sn_conv(cin, width // divisor, kernel, stride, padding),
                nn.LeakyReLU(SLOPE),
            ]
            cin = width // divisor
        layers += [_sn_conv(cin, width // 4, (1, 4, 4), 1, 0), nn.LeakyReLU(SLOPE)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            spectral_norm(nn.Linear(width // 4 + 1, width // 8)),
            nn.LeakyReLU(SLOPE),
            spectral_norm(nn.Linear(width // 8, 1)),
        )

    def forward(self, crop: Tensor, start: int) -> Tensor:
        """Logits (N, 1) of sub-volumes that start at slice ``start``."""
        h = self.features(crop).flatten(1)
        where = torch.full((h.shape[0], 1), start / self.crop_scale, dtype=h.dtype, device=h.device)
        logits: Tensor = self.head(torch.cat([h, where], 1))
        return logits


class Discriminator(nn.Module):
    """D = (D^H, D^L): the mean of D^H's logit on the sub-volume and D^L's on the low-res volume.

    ``width`` is D^H's (the authors' 512); D^L's is half of it (their 256).
    """

    def __init__(self, size: int, width: int = 512, in_channels: int = 1) -> None:
        super().__init__()
        self.high_res = HighResDiscriminator(size, width, in_channels)
        self.low_res = SubDiscriminator(size, width // 2, in_channels)

    def forward(self, crop: Tensor, small: Tensor, start: int) -> Tensor:
        """Logits (N, 1) of (sub-volume starting at ``start``, whole low-res volume) pairs."""
        logits: Tensor = (self.high_res(crop, start) + self.low_res(small)) / 2.0
        return logits


class Encoder(nn.Module):
    """E^H: a sub-volume (N, C, S/8, S, S) → latent features (N, w, S/32, S/4, S/4).

    4³ stride-2 convolution to w/2, 3³ convolution to w/2, 4³ stride-2 convolution to w, each
    with group norm and ReLU. ``width`` is the authors' ``Encoder(channel=64)``, G^H's input width.
    """

    def __init__(self, width: int = 64, in_channels: int = 1) -> None:
        super().__init__()
        half = width // 2
        self.net = nn.Sequential(
            nn.Conv3d(in_channels, half, 4, 2, 1),
            *_norm_relu(half),
            nn.Conv3d(half, half, 3, 1, 1),
            *_norm_relu(half),
            nn.Conv3d(half, width, 4, 2, 1),
            *_norm_relu(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class SubEncoder(nn.Module):
    """E^G: latent features (N, w/4, S/4, S/4, S/4) → noise (N, latent_dim).

    Stride-2 4³ convolutions (the last :func:`levels` (S) of widths w/8, w/4, w/2, w, the first
    one kept reading the w/4 input channels) with group norm and ReLU, then a 4³ convolution to
    ``latent_dim`` at 1³. ``width`` is the authors' ``Sub_Encoder(channel=256)``.
    """

    def __init__(self, size: int, width: int = 256, latent_dim: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = width // 4
        for divisor in _PYRAMID_STACK[len(_PYRAMID_STACK) - levels(size) :]:
            layers += [nn.Conv3d(cin, width // divisor, 4, 2, 1), *_norm_relu(width // divisor)]
            cin = width // divisor
        layers.append(nn.Conv3d(cin, latent_dim, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        out: Tensor = self.net(h)
        return out.flatten(1)


def low_res_volume(volume: Tensor) -> Tensor:
    """The low-resolution whole volume D^L sees: nearest ×¼ per side, i.e. every fourth voxel
    from the first (the authors' ``F.interpolate(x, scale_factor=0.25)``)."""
    return F.interpolate(volume, scale_factor=1 / LATENT_STRIDE, mode="nearest")
