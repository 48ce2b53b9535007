"""Training helpers: optimisers by name, the linear-decay schedule, autocast, freezing nets,
losses handed back without a device-to-host copy."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn

OPTIMIZER_KINDS: tuple[str, ...] = ("rmsprop", "adam", "sgd")

#: SGD's momentum. Neither HLSNC-GAN's Table 5 nor CycleGAN states one for SGD; plain SGD at
#: lr 2e-4 barely moves a GAN, so the common 0.9 is used and named here.
SGD_MOMENTUM = 0.9


def make_optimizer(
    kind: str, params: Iterable[nn.Parameter], lr: float, beta1: float, beta2: float = 0.999
) -> torch.optim.Optimizer:
    """Build an optimiser by name.

    ``rmsprop`` is HLSNC-GAN's (Sec. III-E, eq. 8–11 and Sec. IV-D): decay β = 0.9, ε = 1e-8,
    no momentum. ``adam`` uses betas (``beta1``, ``beta2``), (β1, 0.999) as CycleGAN and pix2pix
    do. ``sgd`` uses momentum :data:`SGD_MOMENTUM`.

    Adam and SGD use torch's fused kernels (one kernel for all parameters) where this torch has
    them for the parameters' device, else the multi-tensor ("foreach") ones; torch has no fused
    RMSprop, which keeps torch's default. The update rule is the same; only rounding differs.

    Raises:
        ValueError: unknown ``kind``.
    """
    params = list(params)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-8)
    if kind == "adam":
        return _fused_if_possible(torch.optim.Adam, params, lr=lr, betas=(beta1, beta2))
    if kind == "sgd":
        return _fused_if_possible(torch.optim.SGD, params, lr=lr, momentum=SGD_MOMENTUM)
    raise ValueError(f"unknown optimizer {kind!r}; expected one of {', '.join(OPTIMIZER_KINDS)}")


def _fused_if_possible(
    cls: type[torch.optim.Optimizer], params: list[nn.Parameter], **kwargs: Any
) -> torch.optim.Optimizer:
    try:
        return cls(params, fused=True, **kwargs)  # type: ignore[call-arg]
    except (RuntimeError, TypeError):  # an older torch without fused kernels for this device
        return cls(params, foreach=True, **kwargs)  # type: ignore[call-arg]


def cosine_lr(base: float, minimum: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at budget fraction 0 to ``minimum`` at fraction 1."""
    return minimum + (base - minimum) * (1.0 + math.cos(math.pi * fraction)) / 2.0


def linear_decay(fraction: float, start: float = 0.5) -> float:
    """Learning-rate factor: 1 until ``start`` of the budget, then linearly down to 0 at its end.

    CycleGAN and pix2pix keep the rate for the first half of training and decay it linearly to
    zero over the second half; expressing it against the budget fraction makes the schedule the
    same under a step, kimg or time budget.
    """
    if fraction <= start:
        return 1.0
    return max(0.0, 1.0 - (fraction - start) / (1.0 - start))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def autocast(device: torch.device, enabled: bool) -> AbstractContextManager[object]:
    """bf16 autocast on ``device`` when ``enabled``; a no-op context otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    """Freeze (``False``) or unfreeze nets, so a generator update computes no critic gradients."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def count_parameters(nets: Iterable[nn.Module]) -> int:
    """Learned parameters of ``nets``."""
    return sum(p.numel() for net in nets for p in net.parameters())


def loss_tensors(names: Sequence[str], values: Sequence[Tensor]) -> dict[str, Tensor]:
    """Named 0-dim float32 losses, detached, on the device they were computed on.

    A train step hands these back instead of Python floats, so it makes no device-to-host copy
    (a synchronisation on a GPU); the runner reads them every few steps, all in one copy.
    """
    stacked = torch.stack([v.detach().float() for v in values])
    return dict(zip(names, stacked.unbind(), strict=True))


def to_device(x: Tensor, device: torch.device, dtype: torch.dtype | None = None) -> Tensor:
    """``x`` (drawn on the CPU) on ``device``: on a GPU through pinned memory without blocking
    the host, so a step's CPU-drawn noise or masks cost no synchronisation."""
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    return x.to(device, dtype)
