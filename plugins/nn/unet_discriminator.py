"""UNetGAN's discriminator (Schönfeld, Schiele & Khoreva, CVPR 2020, Sec. 3.1, Fig. 2).

An encoder that scores the whole image (D_enc) and a decoder that mirrors it back to full
resolution, with skip connections from the encoder, and scores every pixel (D_dec). The encoder
is the shared :class:`~medganbench_plugins.nn.sampling.ConvDiscriminator` (spectral norm, no
normalisation layer, LeakyReLU 0.2, a 4×4 valid convolution to the image logit), so D_enc is
exactly the SAGAN/DCGAN discriminator; the decoder adds one 4×4 stride-2 transposed convolution
per level. Each decoder level's output is concatenated with the encoder features of the same
resolution (U-Net skips) before the next transposed convolution, and the last one maps to one
logit per pixel.

At 64 px, one channel and ``ndf=64`` this is 6,173,058 parameters (HAGAN Table I lists
UNetGAN's D at 6.2 M); the reference is BigGAN's residual discriminator at 128 px and more,
see docs/models.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from medganbench_plugins.nn.sampling import ConvDiscriminator, dcgan_layer


class UNetDiscriminator(nn.Module):
    """Image-level and pixel-level real/fake logits of the same input.

    Args:
        image_size: side of the square input (a power of two, 32–256).
        in_channels: image channels.
        ndf: filters of the first encoder layer (×2 per level, at most ×8).
        spectral: spectral norm on every convolution (UNetGAN's, after BigGAN).

    ``forward(x)`` returns ``(image_logits (N,), pixel_logits (N, 1, S, S))``.
    """

    def __init__(
        self, image_size: int, in_channels: int, ndf: int, *, spectral: bool = True
    ) -> None:
        super().__init__()
        self.encoder = ConvDiscriminator(
            image_size, in_channels, ndf, norm="none", spectral=spectral
        )
        widths = [_out_channels(block) for block in self.encoder.blocks]
        # Decoder level k takes the (concatenated) features at encoder level k and doubles the
        # resolution to level k-1's, matching that level's width; the last level gives 1 logit.
        self.decoder = nn.ModuleList()
        for k in range(len(widths) - 1, -1, -1):
            cin = widths[k] if k == len(widths) - 1 else 2 * widths[k]
            cout = widths[k - 1] if k > 0 else 1
            self.decoder.append(dcgan_layer(nn.ConvTranspose2d(cin, cout, 4, 2, 1), spectral))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.encoder.encode(x)
        image_logits = self.encoder.to_logit(features[-1]).flatten()
        h = features[-1]
        skips = features[-2::-1]  # coarse to fine, without the bottleneck
        for i, up in enumerate(self.decoder):
            h = up(h)
            if i < len(skips):
                h = torch.cat([self.act(h), skips[i]], dim=1)
        return image_logits, h


def _out_channels(block: nn.Module) -> int:
    """Output channels of an encoder block's first layer, its convolution."""
    conv = block[0]
    assert isinstance(conv, nn.Conv2d)  # spectral norm's parametrised class derives from it
    return int(conv.out_channels)
