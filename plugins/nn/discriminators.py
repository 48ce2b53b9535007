"""The PatchGAN discriminator (Isola et al. 2017; used by CycleGAN and HLSNC-GAN)."""

from __future__ import annotations

from torch import Tensor, nn

from medganbench_plugins.nn.init import init_weights
from medganbench_plugins.nn.layers import conv_class
from medganbench_plugins.nn.norms import make_norm, norm_has_shift


class PatchDiscriminator(nn.Module):
    """Conv–norm–LeakyReLU stack ending in a one-channel map of real/fake logits.

    With ``n_layers=3`` this is the 70×70 PatchGAN: three stride-2 4×4 convolutions (64, 128,
    256 filters at ``ndf=64``), a stride-1 convolution (512) and a stride-1 output convolution;
    a 256 px input gives a 30×30 map whose every logit sees a 70×70 patch. The first layer has
    no norm. The output is raw logits: each adversarial loss applies its own link (sigmoid for
    BCE, none for hinge, least squares and Wasserstein). Weights start from the reference's
    N(0, 0.02) rule (:mod:`medganbench_plugins.nn.init`).

    With ``dims=3`` every convolution is 4×4×4 and the norms are 3-D: the same stack judges
    (N, C, D, H, W) volumes, each logit seeing a 70×70×70 patch at ``n_layers=3`` (the receptive
    field grows the same way along every axis); a 32³ input gives a 2³ map, 64³ gives 6³.

    Args:
        in_channels: channels of the judged input (2 for pix2pix's (source, image) pairs).
        ndf: filters of the first layer.
        n_layers: stride-2 layers.
        norm: normalisation kind.
        eps: the norm layers' epsilon.
        dims: 2 for (N, C, H, W) images, 3 for (N, C, D, H, W) volumes.
    """

    def __init__(
        self,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        eps: float = 1e-5,
        dims: int = 2,
    ) -> None:
        super().__init__()
        bias = not norm_has_shift(norm)
        conv = conv_class(dims)
        layers: list[nn.Module] = [
            conv(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                conv(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                make_norm(norm, ndf * mult, eps, dims),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(conv(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
