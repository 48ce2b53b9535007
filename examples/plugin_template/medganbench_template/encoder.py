"""Template: a feature encoder for the distribution metrics. Copy this file to add one.

An encoder plugin returns :class:`EncoderSpec` objects from ``medganbench_encoders``. Once it is
installed, ``fd``, ``kid``, ``precision``, ``recall``, ``density`` and ``coverage`` accept
``--metric-arg fd.encoder=template-edges``; the encoder's name and version enter the run id, and
its weights' sha256 and :attr:`preprocessing` are written on every row.

The contract (``medganbench/core/encoder.py``): ``embed`` takes uint8 RGB ``(N, 3, H, W)`` (the
metric has already mapped the domain's window onto 0..255 and repeated grey to three channels)
and returns float32 ``(N, dim)`` on the CPU; each image's features depend on that image only,
and the same images always give the same features. Weights come in ``ctx.tensors``, already
verified against the artifact's pinned sha256 by the weights manager: an encoder never downloads
or opens a file itself. Bump ``version`` whenever its features change.

This one convolves the image with the Sobel kernel of the weights template
(``template-edge-filter``) and pools the gradient magnitude over a 4 x 4 grid: 16 features.
``medganbench check encoder template-edges`` checks it (install the weights file first:
``medganbench weights install template-edge-filter --from edge_filter.safetensors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from medganbench.plugin import Encoder, EncoderContext, EncoderSpec, hookimpl
from medganbench_template.weights import EDGE_FILTER

#: The pooling grid: features are the mean gradient magnitude in each of GRID x GRID cells.
GRID = 4


class SobelEdges(Encoder):
    """Mean Sobel gradient magnitude over a 4 x 4 grid of the grey image."""

    dim = GRID * GRID
    preprocessing = (
        "grey = channel 0 / 255; Sobel x and y (template-edge-filter); |grad| avg-pooled to 4x4"
    )

    def __init__(self, args: Mapping[str, Any], ctx: EncoderContext) -> None:
        super().__init__(args, ctx)
        if ctx.tensors is None or "kernel" not in ctx.tensors:
            raise ValueError("template-edges needs the template-edge-filter weights (kernel)")
        kx = ctx.tensors["kernel"].to(torch.float32).reshape(1, 1, 3, 3)
        # The y kernel is the x kernel transposed.
        self.kernels = torch.cat([kx, kx.transpose(2, 3)])

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        grey = images[:, :1].to(torch.float32) / 255.0
        grad = F.conv2d(grey, self.kernels, padding=1)
        magnitude = grad.pow(2).sum(dim=1, keepdim=True).sqrt()
        return F.adaptive_avg_pool2d(magnitude, GRID).flatten(1).contiguous()


@hookimpl
def medganbench_encoders() -> list[EncoderSpec]:
    return [
        EncoderSpec(
            name="template-edges",
            summary="Template: Sobel gradient magnitude pooled to 4x4 (examples/plugin_template).",
            version="1",
            factory="medganbench_template.encoder:SobelEdges",
            weights=EDGE_FILTER,
        )
    ]
