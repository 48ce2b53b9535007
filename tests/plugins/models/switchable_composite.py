"""Switchable normalization written op by op, as Luo et al.'s reference code computes it.

The oracle of the tests of :func:`medganbench_plugins.nn.norms.switchable_norm` (autograd
differentiates it, to first and second order) and the "before" of its benchmark: until the
hand-derived backward, :class:`~medganbench_plugins.nn.norms.SwitchableNorm2d` ran this
composite, with ``torch.var`` for the per-image variance.
"""

from __future__ import annotations

import torch
from torch import nn

from medganbench_plugins.nn.norms import SwitchableNorm2d


def composite_switchable_norm(
    x: torch.Tensor, norm: SwitchableNorm2d, training: bool
) -> torch.Tensor:
    """Luo et al.'s formulation, op by op, for autograd to differentiate.

    Computed in ``x``'s dtype with ``norm``'s parameters and (``training=False``) running
    statistics; the running statistics are not updated.
    """
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    mean_in = flat.mean(-1, keepdim=True)
    var_in = flat.var(-1, keepdim=True, unbiased=False)
    second = var_in + mean_in**2
    mean_ln = mean_in.mean(1, keepdim=True)
    var_ln = (second.mean(1, keepdim=True) - mean_ln**2).clamp_min(0.0)
    if training:
        mean_bn = mean_in.mean(0, keepdim=True)
        var_bn = (second.mean(0, keepdim=True) - mean_bn**2).clamp_min(0.0)
    else:
        mean_bn = norm.running_mean.to(x.dtype).view(1, c, 1)
        var_bn = norm.running_var.to(x.dtype).view(1, c, 1)
    mw = torch.softmax(norm.mean_weight.to(x.dtype), 0)
    vw = torch.softmax(norm.var_weight.to(x.dtype), 0)
    mean = mw[0] * mean_in + mw[1] * mean_ln + mw[2] * mean_bn
    var = vw[0] * var_in + vw[1] * var_ln + vw[2] * var_bn
    y = (flat - mean) / (var + norm.eps).sqrt()
    return y.view(n, c, h, w) * norm.weight.to(x.dtype).view(1, c, 1, 1) + norm.bias.to(
        x.dtype
    ).view(1, c, 1, 1)


class CompositeSwitchableNorm2d(nn.Module):
    """A :class:`SwitchableNorm2d`'s parameters, run through :func:`composite_switchable_norm`.

    Inputs are computed in float32 (or wider) and the output cast back, as the module does.
    """

    def __init__(self, norm: SwitchableNorm2d) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(x.dtype, torch.float32)
        return composite_switchable_norm(x.to(dtype), self.norm, self.training).to(x.dtype)


def use_composite_norms(net: nn.Module) -> int:
    """Swap every :class:`SwitchableNorm2d` inside ``net`` for its composite; return how many."""
    swapped = 0
    for name, child in net.named_children():
        if isinstance(child, SwitchableNorm2d):
            setattr(net, name, CompositeSwitchableNorm2d(child))
            swapped += 1
        else:
            swapped += use_composite_norms(child)
    return swapped


def use_composite_norms_in_model(model: object) -> int:
    """:func:`use_composite_norms` on every network a model holds as an attribute."""
    networks = (v for v in vars(model).values() if isinstance(v, nn.Module))
    return sum(use_composite_norms(net) for net in networks)
