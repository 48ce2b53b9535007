"""Normalisation layers, chosen by name: switchable, instance, batch, layer.

:class:`SwitchableNorm2d` follows Luo et al., "Differentiable Learning-to-Normalize via
Switchable Normalization" (ICLR 2019): instance-, layer- and batch-norm statistics are computed
from the same per-(sample, channel) moments and mixed with learned softmax weights, separate for
means and for variances. Batch statistics are replaced by running averages in evaluation mode,
so a trained model translates each image independently of its evaluation batch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from medganbench_plugins.nn.layers import check_dims

NORM_KINDS: tuple[str, ...] = ("switchable", "instance", "batch", "layer")
#: The kinds :func:`make_norm` builds for volumes (Switchable Normalization is 2-D only).
VOLUME_NORM_KINDS: tuple[str, ...] = ("instance", "batch", "layer")


class SwitchableNorm2d(nn.Module):
    """Switchable Normalization over (N, C, H, W) activations.

    Args:
        num_features: channels C.
        eps: added to the mixed variance before the square root.
        momentum: weight of the current batch in the running batch statistics (PyTorch's
            BatchNorm convention: ``running = (1 - momentum) * running + momentum * batch``).

    Learned parameters: a per-channel affine ``weight`` and ``bias``; ``mean_weight`` and
    ``var_weight`` (3 logits each, order IN, LN, BN) whose softmaxes mix the statistics.
    The arithmetic is :func:`switchable_norm`'s.
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
        mean_mix, var_mix = self.mixing_weights()
        running = None if self.training else (self.running_mean, self.running_var)
        y, mean_bn, var_bn = switchable_norm(
            x, self.weight, self.bias, mean_mix, var_mix, self.eps, running
        )
        if self.training:
            with torch.no_grad():
                n, _, h, w = x.shape
                count = n * h * w
                unbiased = var_bn * (count / max(count - 1, 1))
                self.running_mean.lerp_(mean_bn.to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        return y


def switchable_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    mean_mix: torch.Tensor,
    var_mix: torch.Tensor,
    eps: float,
    running: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Switchable normalization of ``x`` (N, C, H, W), differentiable to second order.

    The instance statistics are the per-(n, c) mean and biased variance over H×W; layer and
    batch statistics derive from them (means of the per-(n, c) mean and second moment), so one
    reduction over the image serves all three. With ``running`` (mean, variance per channel)
    those replace the batch statistics, as in evaluation mode. The mean is
    ``Σ mean_mix[k]·mean_k``, the variance ``Σ var_mix[k]·var_k`` (k = IN, LN, BN), and
    ``y = (x - mean) / sqrt(var + eps) · weight + bias``.

    Statistics and ``y`` are computed in float32, or wider for wider inputs, even for bf16
    activations under autocast (bf16 variances of large activations lose most of their digits);
    ``y`` is returned in ``x``'s dtype.

    Returns:
        ``y``, and the batch mean and biased batch variance per channel (``running`` as given
        in evaluation mode); the last two carry no gradient.
    """
    running_mean, running_var = running if running is not None else (None, None)
    return _SwitchableNorm.apply(x, weight, bias, mean_mix, var_mix, running_mean, running_var, eps)


class _Moments(NamedTuple):
    """Statistics of one switchable-norm call; (N, C), (N, 1) or (1, C), in the compute dtype."""

    mean_in: torch.Tensor
    var_in: torch.Tensor
    mean_ln: torch.Tensor
    raw_var_ln: torch.Tensor  # before clamping at 0, which rounding can undershoot
    mean_bn: torch.Tensor
    raw_var_bn: torch.Tensor
    mean: torch.Tensor  # mixed
    var: torch.Tensor  # mixed


def _moments(
    x: torch.Tensor,
    mean_mix: torch.Tensor,
    var_mix: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
) -> _Moments:
    n, c = x.shape[:2]
    dtype = torch.promote_types(x.dtype, torch.float32)
    mean_in = x.mean(dim=(2, 3), dtype=dtype)
    # Two passes (mean, then mean squared deviation) are as accurate as torch.var's Welford
    # update and, on CPUs at these sizes, several times faster (benchmarks/README.md).
    var_in = (x - mean_in.view(n, c, 1, 1)).square().mean(dim=(2, 3))
    square_in = var_in + mean_in.square()
    mean_ln = mean_in.mean(dim=1, keepdim=True)
    raw_var_ln = square_in.mean(dim=1, keepdim=True) - mean_ln.square()
    if running_mean is None or running_var is None:
        mean_bn = mean_in.mean(dim=0, keepdim=True)
        raw_var_bn = square_in.mean(dim=0, keepdim=True) - mean_bn.square()
    else:
        mean_bn = running_mean.to(dtype).view(1, c)
        raw_var_bn = running_var.to(dtype).view(1, c)
    var_ln, var_bn = raw_var_ln.clamp_min(0.0), raw_var_bn.clamp_min(0.0)
    mean = mean_mix[0] * mean_in + mean_mix[1] * mean_ln + mean_mix[2] * mean_bn
    var = var_mix[0] * var_in + var_mix[1] * var_ln + var_mix[2] * var_bn
    return _Moments(mean_in, var_in, mean_ln, raw_var_ln, mean_bn, raw_var_bn, mean, var)


class _SwitchableNorm(torch.autograd.Function):
    """:func:`switchable_norm` with a hand-derived backward.

    Why: autograd through the composite runs some 60 small operations per layer, a third of an
    ``hlsnc`` training step on a CPU at 64 px; the backward below needs two reductions and two
    fused multiply-adds over the activations plus arithmetic on (N, C) statistics. It is checked
    against autograd and with gradcheck/gradgradcheck in tests. When a second derivative is
    being built (``create_graph=True``, as the gradient penalty does), the statistics are
    recomputed from the saved inputs so that autograd can differentiate the backward itself.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        mean_mix: torch.Tensor,
        var_mix: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, c = x.shape[:2]
        m = _moments(x, mean_mix, var_mix, running_mean, running_var)
        rstd = torch.rsqrt(m.var + eps)
        scale = weight.view(1, c) * rstd
        shift = bias.view(1, c) - m.mean * scale
        # One multiply-add over the activations, written straight into x's dtype.
        y = torch.addcmul(
            shift.view(n, c, 1, 1), x, scale.view(n, c, 1, 1), out=torch.empty_like(x)
        )
        ctx.eps = eps
        ctx.batch_stats = running_mean is None or running_var is None
        ctx.save_for_backward(x, weight, mean_mix, var_mix, running_mean, running_var, *m, rstd)
        mean_bn = m.mean_bn.view(c)
        var_bn = m.raw_var_bn.clamp_min(0.0).view(c)
        ctx.mark_non_differentiable(mean_bn, var_bn)
        return y, mean_bn, var_bn

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, dy: torch.Tensor, _d_mean_bn: torch.Tensor, _d_var_bn: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight, mean_mix, var_mix, running_mean, running_var, *saved = ctx.saved_tensors
        m = _Moments(*saved[:-1])
        rstd = saved[-1]
        if torch.is_grad_enabled():  # create_graph: make the statistics functions of x again
            m = _moments(x, mean_mix, var_mix, running_mean, running_var)
            rstd = torch.rsqrt(m.var + ctx.eps)
        n, c, h, w = x.shape
        count = h * w
        d = dy.to(m.mean.dtype)
        sum_dy = d.sum(dim=(2, 3))
        # Σ dy·(x - mean) over each image.
        sum_dy_centred = (d * x).sum(dim=(2, 3)) - m.mean * sum_dy
        wv = weight.view(1, c)
        d_weight = (rstd * sum_dy_centred).sum(dim=0)
        d_bias = sum_dy.sum(dim=0)
        d_mean = -wv * rstd * sum_dy
        d_var = -0.5 * wv * rstd.pow(3) * sum_dy_centred
        var_ln, var_bn = m.raw_var_ln.clamp_min(0.0), m.raw_var_bn.clamp_min(0.0)
        d_mean_mix = torch.stack(
            [(d_mean * m.mean_in).sum(), (d_mean * m.mean_ln).sum(), (d_mean * m.mean_bn).sum()]
        )
        d_var_mix = torch.stack(
            [(d_var * m.var_in).sum(), (d_var * var_ln).sum(), (d_var * var_bn).sum()]
        )
        # Back through the mixing and the LN/BN statistics to the per-image mean and variance.
        d_var_ln = var_mix[1] * d_var.sum(dim=1, keepdim=True) * (m.raw_var_ln >= 0)
        d_square_in = d_var_ln / c
        d_mean_ln = mean_mix[1] * d_mean.sum(dim=1, keepdim=True) - 2 * m.mean_ln * d_var_ln
        d_mean_in = mean_mix[0] * d_mean + d_mean_ln / c
        if ctx.batch_stats:
            d_var_bn = var_mix[2] * d_var.sum(dim=0, keepdim=True) * (m.raw_var_bn >= 0)
            d_square_in = d_square_in + d_var_bn / n
            d_mean_bn = mean_mix[2] * d_mean.sum(dim=0, keepdim=True) - 2 * m.mean_bn * d_var_bn
            d_mean_in = d_mean_in + d_mean_bn / n
        d_var_in = var_mix[0] * d_var + d_square_in
        d_mean_in = d_mean_in + 2 * m.mean_in * d_square_in
        # dx = dy·scale + x·p + q, where p and q carry the gradient through the statistics.
        p = (2.0 / count) * d_var_in
        q = d_mean_in / count - p * m.mean_in
        dx = torch.addcmul(q.view(n, c, 1, 1), d, (wv * rstd).view(n, c, 1, 1))
        dx = dx.addcmul(x, p.view(n, c, 1, 1))
        return dx.to(x.dtype), d_weight, d_bias, d_mean_mix, d_var_mix, None, None, None


def make_norm(kind: str, channels: int, eps: float = 1e-5, dims: int = 2) -> nn.Module:
    """Build a normalisation layer by name, for images (``dims`` 2) or volumes (``dims`` 3).

    ``instance`` is affine-free without running statistics (as in CycleGAN's reference setup);
    ``layer`` normalises each sample over (C, H, W) — (C, D, H, W) for volumes — with a
    per-channel affine (GroupNorm with one group); ``batch`` is :class:`torch.nn.BatchNorm2d`
    (:class:`torch.nn.BatchNorm3d` for volumes). ``switchable`` exists for images only.

    Raises:
        ValueError: unknown ``kind``, unsupported ``dims``, or ``switchable`` with ``dims`` 3.
    """
    volume = check_dims(dims) == 3
    if kind == "switchable":
        if volume:
            raise ValueError(
                "switchable norm is 2-D only; for volumes use one of "
                + ", ".join(VOLUME_NORM_KINDS)
            )
        return SwitchableNorm2d(channels, eps=eps)
    if kind == "instance":
        instance = nn.InstanceNorm3d if volume else nn.InstanceNorm2d
        return instance(channels, eps=eps, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm3d(channels, eps=eps) if volume else nn.BatchNorm2d(channels, eps=eps)
    if kind == "layer":
        return nn.GroupNorm(1, channels, eps=eps)
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORM_KINDS)}")


def norm_has_shift(kind: str) -> bool:
    """Whether the norm layer adds its own learned bias (so the preceding conv needs none)."""
    return kind != "instance"
