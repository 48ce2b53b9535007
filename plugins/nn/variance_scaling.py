"""Variance-scaling initialisation of the score-model family (DDPM, NCSN++, DDGAN, SynDiff).

Two rules, both uniform on [-b, b] with b = √(3·scale / fan) and ``scale`` 0 read as 1e-10 (the
authors' way of starting a layer almost at zero while keeping its gradient alive):

- :func:`fan_avg_init_`, the DDPM rule (``default_init`` of score_sde / DDGAN / SynDiff
  ``backbones/layers.py``): fan = (fan_in + fan_out) / 2, i.e. Xavier uniform with gain √scale;
- :func:`fan_out_init_`, the rule of DDGAN's ``dense_layer.py`` (``dense`` and ``conv2d``, used by
  its discriminators and by the latent mapping and adaptive group norms of its generator). That
  code asks for ``mode="fan_avg"`` but its fan helper returns fan_out for every mode other than
  ``"fan_in"``, so what it draws is fan = max(1, fan_out), with fan_out = out-channels ×
  kernel area. The effective rule is ported, not the stated one.

Biases are zeroed by both. Draws come from torch's global RNG.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
from torch import nn

#: What a scale of 0 means: a layer that starts at (almost) zero output.
ZERO_SCALE = 1e-10

Layer = TypeVar("Layer", nn.Conv2d, nn.Linear)


def _fans(weight: torch.Tensor) -> tuple[float, float]:
    """(fan_in, fan_out) of a (out, in, *kernel) weight."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return float(weight.shape[1] * receptive), float(weight.shape[0] * receptive)


def _uniform_(layer: nn.Conv2d | nn.Linear, variance: float) -> None:
    bound = math.sqrt(3.0 * variance)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()


def fan_avg_init_(layer: Layer, scale: float = 1.0) -> Layer:
    """The DDPM rule in place: variance scale / ((fan_in + fan_out) / 2); returns ``layer``.

    That is Xavier uniform with gain √scale, drawn by torch's own ``xavier_uniform_`` (so
    ``ddpm``'s and ``cond-ddpm``'s initial weights stay what their recorded runs drew).
    """
    nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(scale or ZERO_SCALE))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def fan_out_init_(layer: Layer, scale: float = 1.0) -> Layer:
    """DDGAN's ``dense``/``conv2d`` rule in place: variance scale / max(1, fan_out)."""
    _, fan_out = _fans(layer.weight)
    _uniform_(layer, (scale or ZERO_SCALE) / max(1.0, fan_out))
    return layer
