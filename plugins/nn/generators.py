"""Image-to-image generators: the ResNet generator of CycleGAN/HLSNC-GAN and the U-Net of pix2pix.

Both map (N, C_in, H, W) in [-1, 1] to (N, C_out, H, W) in [-1, 1] (tanh output) and preserve
the spatial size; their constructors check that the size is one they can preserve. Both start
from the reference's N(0, 0.02) initialisation (:mod:`medganbench_plugins.nn.init`). The U-Net
also takes ``dims=3``: the same network on (N, C, D, H, W) volumes, every 4×4 convolution a
4×4×4 one (:mod:`medganbench_plugins.nn.layers`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from medganbench.errors import UsageError
from medganbench_plugins.nn.init import init_weights
from medganbench_plugins.nn.layers import conv_class, conv_transpose_class
from medganbench_plugins.nn.norms import make_norm, norm_has_shift


class ResnetBlock(nn.Module):
    """Two reflection-padded 3×3 convolutions with a norm, ReLU between, and a skip connection."""

    def __init__(self, channels: int, norm: str, eps: float) -> None:
        super().__init__()
        bias = not norm_has_shift(norm)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            make_norm(norm, channels, eps),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            make_norm(norm, channels, eps),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Stem convolution, two stride-2 convolutions, residual blocks, two transposed convolutions.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        ngf: filters of the stem; the residual blocks work at ``4 * ngf``.
        n_blocks: residual blocks.
        norm: normalisation kind (see :func:`~medganbench_plugins.nn.norms.make_norm`).
        stem_kernel: kernel of the first and last convolution (7 in CycleGAN, 5 in HLSNC-GAN's
            Table 2); both are reflection-padded so the image size is preserved.
        eps: the norm layers' epsilon.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        stem_kernel: int = 7,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if stem_kernel % 2 != 1:
            raise UsageError(f"stem_kernel={stem_kernel} must be odd to preserve the image size.")
        bias = not norm_has_shift(norm)
        pad = stem_kernel // 2
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(pad),
            nn.Conv2d(in_channels, ngf, stem_kernel, bias=bias),
            make_norm(norm, ngf, eps),
            nn.ReLU(inplace=True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                make_norm(norm, ngf * mult * 2, eps),
                nn.ReLU(inplace=True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, eps) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias
                ),
                make_norm(norm, ngf * mult // 2, eps),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(pad), nn.Conv2d(ngf, out_channels, stem_kernel), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    @staticmethod
    def check_size(image_size: int) -> None:
        """Refuse sizes the two stride-2 stages cannot restore exactly.

        Raises:
            UsageError: ``image_size`` is not a multiple of 4.
        """
        if image_size % 4:
            raise UsageError(
                f"The ResNet generator needs an image size divisible by 4, got {image_size}.",
                hint="Use e.g. --image-size 64, 128, 256 or 512.",
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class UnetBlock(nn.Module):
    """One level of the U-Net: down-convolution, the inner levels, up-convolution, skip concat.

    ``dims`` 2 for images, 3 for volumes (4×4×4 convolutions and 3-D norms).
    """

    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        in_channels: int | None = None,
        sub: nn.Module | None = None,
        outermost: bool = False,
        norm: str = "batch",
        dropout: bool = False,
        dims: int = 2,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_channels = outer if in_channels is None else in_channels
        bias = not norm_has_shift(norm)
        conv, conv_t = conv_class(dims), conv_transpose_class(dims)
        down = conv(in_channels, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            assert sub is not None
            up = conv_t(inner * 2, outer, 4, stride=2, padding=1)
            layers: list[nn.Module] = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif sub is None:  # innermost: the down path reaches 1×1 at powers of two, so no norm
            up = conv_t(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up]
            layers.append(make_norm(norm, outer, dims=dims))
        else:
            up = conv_t(inner * 2, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, make_norm(norm, inner, dims=dims), sub]
            layers += [nn.ReLU(True), up, make_norm(norm, outer, dims=dims)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        # Skip connection: the level's input channels, then the inner levels' output.
        return torch.cat([x, self.model(x)], 1)


def unet_depth(size: int | Sequence[int], max_depth: int = 8) -> int:
    """Down-sampling levels for the U-Net: halve while the size stays even, at most ``max_depth``.

    pix2pix's U-Net-256 has 8 levels, reaching 1×1; smaller powers of two get fewer levels so
    they also reach 1×1 (32 → 5, 64 → 6, 128 → 7: the reference's unet_128 at 128), and sizes
    like 96 stop at an odd bottleneck (3×3). For a volume, ``size`` is its (D, H, W) and every
    side is halved at each level: the depth is the fewest levels any side allows, so a 32³
    volume gets 5 levels and ends at 1³, and a 32×64×64 one ends at 1×2×2.

    Raises:
        UsageError: fewer than 5 levels are possible (a side is not a multiple of 32).
    """
    sides = (size,) if isinstance(size, int) else tuple(int(s) for s in size)
    depth = min(_halvings(side, max_depth) for side in sides)
    if depth < 5:
        if isinstance(size, int):
            problem = f"an image size divisible by 32, got {size}"
            hint = "Use e.g. --image-size 64, 128, 256 or 512."
        else:
            problem = f"every side of the volume divisible by 32, got {'×'.join(map(str, sides))}"
            hint = "Use volumes of e.g. 32³, 64³ or 128³ voxels."
        raise UsageError(f"The U-Net generator needs {problem}.", hint=hint)
    return depth


def _halvings(side: int, max_depth: int) -> int:
    """How often ``side`` halves evenly before it reaches 1, at most ``max_depth`` times."""
    depth = 0
    while depth < max_depth and side % 2 == 0 and side > 1:
        side //= 2
        depth += 1
    return depth


class UnetGenerator(nn.Module):
    """pix2pix's U-Net: ``depth`` stride-2 levels with skip connections between mirrored levels.

    Filters double from ``ngf`` to ``8 * ngf`` over the first four levels and stay there; the
    three innermost decoder levels below the 8·ngf plateau use dropout 0.5 (pix2pix's noise
    source), as in the reference U-Net-256. With ``dims=3`` the same levels work on volumes.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        depth: down-sampling levels (see :func:`unet_depth`), at least 5.
        ngf: filters of the outermost level.
        norm: normalisation kind.
        dropout: use dropout in the innermost decoder levels.
        dims: 2 for (N, C, H, W) images, 3 for (N, C, D, H, W) volumes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        ngf: int = 64,
        norm: str = "batch",
        dropout: bool = True,
        dims: int = 2,
    ) -> None:
        super().__init__()
        if depth < 5:
            raise ValueError(f"U-Net depth must be at least 5, got {depth}")
        block = UnetBlock(ngf * 8, ngf * 8, norm=norm, dims=dims)
        for _ in range(depth - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, norm=norm, dropout=dropout, dims=dims)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, sub=block, norm=norm, dims=dims)
        self.model = UnetBlock(
            out_channels,
            ngf,
            in_channels=in_channels,
            sub=block,
            outermost=True,
            norm=norm,
            dims=dims,
        )
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
