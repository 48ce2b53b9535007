"""HAGAN's networks: the SAGAN-structured generator and the hierarchical discriminator.

:class:`SelfAttention` is SAGAN's block, whose attention map the generator turns into the
saliency AttnMix weights its labels by; :class:`Generator` also takes the reverse-skip features
of the discriminator's real path; :class:`HierDiscriminator` has the image-level encoder and the
pixel-level decoder. The paper's sections and the readings chosen are in
:mod:`medganbench_plugins.models.hagan`; the model that trains these networks is
:class:`medganbench_plugins.models.hagan_model.HAGAN`. Not a plugin module: it registers nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["Generator", "HierDiscriminator", "SelfAttention"]


def _level_channels(base: int, size: int, res: int) -> int:
    """Channels at resolution ``res`` of a DCGAN-style net for ``size`` px: base·min(8, size/(2·res)).

    G and D share the rule, so their features at one resolution have matching widths when
    ``ngf == ndf`` (at 64 px: 512 at 4 px, 256 at 8, 128 at 16, 64 at 32).
    """
    return base * min(8, size // (2 * res))


def _attention_res(size: int) -> int:
    return min(size // 2, 64)


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
