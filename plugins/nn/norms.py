"""Normalisation layers, chosen by name: switchable, instance, batch, layer.

:class:`SwitchableNorm2d` follows Luo et al., "Differentiable Learning-to-Normalize via
Switchable Normalization" (ICLR 2019): instance-, layer- and batch-norm statistics are computed
from the same per-(sample, channel) moments and mixed with learned softmax weights, separate for
means and for variances. Batch statistics are replaced by running averages in evaluation mode,
so a trained model translates each image independently of its evaluation batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORM_KINDS: tuple[str, ...] = ("switchable", "instance", "batch", "layer")


class SwitchableNorm2d(nn.Module):
    """Switchable Normalization over (N, C, H, W) activations.

    Args:
        num_features: channels C.
        eps: added to the mixed variance before the square root.
        momentum: weight of the current batch in the running batch statistics (PyTorch's
            BatchNorm convention: ``running = (1 - momentum) * running + momentum * batch``).

    Learned parameters: a per-channel affine ``weight`` and ``bias``; ``mean_weight`` and
    ``var_weight`` (3 logits each, order IN, LN, BN) whose softmaxes mix the statistics.
    Statistics are computed in float32 even under autocast, since bf16 variances of large
    activations lose most of their digits.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.mean_weight = nn.Parameter(torch.ones(3))
        self.var_weight = nn.Parameter(torch.ones(3))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def mixing_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The softmax weights (IN, LN, BN) for means and for variances."""
        return F.softmax(self.mean_weight, 0), F.softmax(self.var_weight, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SwitchableNorm2d expects (N, C, H, W), got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        xf = x.float()
        # Every statistic derives from per-(n, c) moments: E[x] and E[x²] over H×W.
        mean_in = xf.mean(dim=(2, 3), keepdim=True)
        var_in = xf.var(dim=(2, 3), keepdim=True, unbiased=False)
        square_in = var_in + mean_in.square()
        mean_ln = mean_in.mean(dim=1, keepdim=True)
        var_ln = (square_in.mean(dim=1, keepdim=True) - mean_ln.square()).clamp_min(0.0)
        if self.training:
            mean_bn = mean_in.mean(dim=0, keepdim=True)
            var_bn = (square_in.mean(dim=0, keepdim=True) - mean_bn.square()).clamp_min(0.0)
            with torch.no_grad():
                count = n * h * w
                unbiased = var_bn.flatten() * (count / max(count - 1, 1))
                self.running_mean.lerp_(
                    mean_bn.flatten().to(self.running_mean.dtype), self.momentum
                )
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        else:
            mean_bn = self.running_mean.float().view(1, c, 1, 1)
            var_bn = self.running_var.float().view(1, c, 1, 1)
        mw, vw = self.mixing_weights()
        mean = mw[0] * mean_in + mw[1] * mean_ln + mw[2] * mean_bn
        var = vw[0] * var_in + vw[1] * var_ln + vw[2] * var_bn
        y = (xf - mean) * torch.rsqrt(var + self.eps)
        y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y.to(x.dtype)


def make_norm(kind: str, channels: int, eps: float = 1e-5) -> nn.Module:
    """Build a 2-D normalisation layer by name.

    ``instance`` is affine-free without running statistics (as in CycleGAN's reference setup);
    ``layer`` normalises each sample over (C, H, W) with a per-channel affine (GroupNorm with one
    group); ``batch`` is :class:`torch.nn.BatchNorm2d`.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind == "switchable":
        return SwitchableNorm2d(channels, eps=eps)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, eps=eps, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=eps)
    if kind == "layer":
        return nn.GroupNorm(1, channels, eps=eps)
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORM_KINDS)}")


def norm_has_shift(kind: str) -> bool:
    """Whether the norm layer adds its own learned bias (so the preceding conv needs none)."""
    return kind != "instance"
