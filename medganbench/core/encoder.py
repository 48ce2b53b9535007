"""The encoder contract: images → one feature vector per image, for distribution metrics.

An encoder is a registered, versioned component (``medganbench_encoders`` hook, returning
:class:`~medganbench.core.specs.EncoderSpec`). The distribution metrics (``fd``, ``kid``,
``precision``, ``recall``, ``density``, ``coverage``) take ``encoder=NAME`` and compare the
feature sets the encoder produces; the Fréchet and kernel maths never depend on the encoder.

The contract, in full:

* the factory is called as ``factory(args, EncoderContext)``; ``ctx.tensors`` are the verified,
  converted weights of the spec's :attr:`~medganbench.core.specs.EncoderSpec.weights` artifact
  (the metric resolves them through the weights manager; an encoder never downloads anything);
* :meth:`Encoder.embed` takes **uint8 RGB** images ``(N, 3, H, W)`` — the metric has already
  quantised them through the target window and repeated grey to three channels — and returns
  float32 ``(N, dim)`` on the CPU; the encoder does its own resizing and normalisation;
* each image's features depend on that image only (not on the batch it came in), and the same
  images give the same features (eval mode, no dropout, no randomness);
* :attr:`Encoder.preprocessing` states, in one line, the input size, interpolation,
  normalisation and which layer the features are; it is written on every row.

Bump the spec's ``version`` whenever any of that changes: it is part of the run id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class EncoderContext:
    """What a metric hands an encoder factory.

    Attributes:
        device: where the network runs.
        tensors: the verified weights (name → tensor, on the CPU), or ``None`` when the spec
            declares no weights artifact.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    tensors: Mapping[str, torch.Tensor] | None = None


class Encoder(ABC):
    """A frozen feature extractor (see the module docstring for the contract).

    Attributes:
        dim: length of each feature vector.
        preprocessing: one line: input size, interpolation, normalisation, feature layer.
    """

    dim: int
    preprocessing: str

    def __init__(self, args: Mapping[str, Any], ctx: EncoderContext) -> None:
        self.args = dict(args)
        self.ctx = ctx

    @abstractmethod
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(N, 3, H, W)`` → float32 ``(N, dim)`` on the CPU."""
