"""Gaussian diffusion (Ho, Jain & Abbeel 2020): the noise schedule, the training loss and samplers.

- :class:`LinearSchedule`: β_t linear from β_1 = 1e-4 to β_T = 0.02 over T = 1000 steps
  (Sec. 4), ᾱ_t = Π(1 − β_s);
- :func:`training_loss`: L_simple (eq. 14): t ~ U{1..T}, ε ~ N(0, I),
  ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖², averaged;
- :func:`ancestral_sample`: Algorithm 2 with every one of the T steps. As in the authors' code,
  each step predicts x_0 from ε_θ, clips it to [-1, 1] and draws x_{t−1} from the posterior
  q(x_{t−1} | x_t, x_0) with the "fixed large" variance σ_t² = β_t (β̃_1 at t = 1), their
  CIFAR-10 setting;
- :func:`ddim_sample`: DDIM (Song, Meng & Ermon, ICLR 2021, eq. 12 with η = 0) over ``steps``
  evenly spaced timesteps of the same schedule: deterministic given x_T, so fewer network
  evaluations for the same trained model.

Timesteps are 0-based in code (t = 0 … T−1 stand for the paper's 1 … T). Every random draw
comes from a ``torch.Generator`` on the CPU, so the same generator state gives the same images
on every device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from medganbench import progress

#: ε_θ(x_t, t): the denoiser's signature.
Denoiser = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class LinearSchedule:
    """The linear β schedule and the quantities derived from it, float64 on the CPU."""

    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    @property
    def betas(self) -> Tensor:
        return torch.linspace(self.beta_start, self.beta_end, self.timesteps, dtype=torch.float64)

    @property
    def alphas_cumprod(self) -> Tensor:
        return torch.cumprod(1.0 - self.betas, dim=0)


def _randn(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.randn(shape, generator=generator).to(like.device, like.dtype)


def _at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t] shaped (N, 1, 1, 1) in ``like``'s dtype and device."""
    return values[t.cpu()].to(like.device, like.dtype).view(-1, 1, 1, 1)


def training_loss(
    model: Denoiser, x0: Tensor, schedule: LinearSchedule, generator: torch.Generator
) -> Tensor:
    """L_simple on a batch of clean images x0 in [-1, 1] (t and ε drawn from ``generator``)."""
    n = x0.shape[0]
    t = torch.randint(0, schedule.timesteps, (n,), generator=generator)
    noise = _randn(tuple(x0.shape), generator, x0)
    abar = _at(schedule.alphas_cumprod, t, x0)
    x_t = abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise
    return (model(x_t, t.to(x0.device)).float() - noise.float()).square().mean()


@torch.no_grad()
def ancestral_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """Algorithm 2 over all T steps; returns x_0 in [-1, 1], float32 on ``device``."""
    betas = schedule.betas
    abar = schedule.alphas_cumprod
    abar_prev = torch.cat([torch.ones(1, dtype=abar.dtype), abar[:-1]])
    posterior_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    # "fixedlarge": β_t, except β̃ at the first step, whose posterior variance is 0.
    sigma2 = torch.cat([posterior_var[1:2], betas[1:]])
    coef_x0 = betas * abar_prev.sqrt() / (1.0 - abar)
    coef_xt = (1.0 - abar_prev) * (1.0 - betas).sqrt() / (1.0 - abar)
    x = torch.randn(shape, generator=generator).to(device)
    label = f"sampling {shape[0]} image(s), ancestral"
    with progress.phase(label, total=schedule.timesteps, unit="denoising steps") as shown:
        for step in reversed(range(schedule.timesteps)):
            t = torch.full((shape[0],), step, dtype=torch.long)
            eps = model(x, t.to(device)).float()
            x0 = ((x - _at((1.0 - abar).sqrt(), t, x) * eps) / _at(abar.sqrt(), t, x)).clamp(-1, 1)
            mean = _at(coef_x0, t, x) * x0 + _at(coef_xt, t, x) * x
            noise = torch.randn(shape, generator=generator).to(device)
            x = mean + (_at(sigma2, t, x).sqrt() * noise if step > 0 else 0.0)
            shown.advance()
    return x.clamp(-1.0, 1.0)


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """``steps`` evenly spaced 0-based timesteps from 0 to ``timesteps`` − 1, descending."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"DDIM steps must be in [1, {timesteps}], got {steps}")
    stride = timesteps / steps
    return sorted({int(round(i * stride)) for i in range(steps)}, reverse=True)


@torch.no_grad()
def ddim_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    steps: int,
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """Deterministic DDIM (η = 0) over ``steps`` timesteps; x_0 in [-1, 1], float32."""
    abar = schedule.alphas_cumprod
    ts = ddim_timesteps(schedule.timesteps, steps)
    x = torch.randn(shape, generator=generator).to(device)
    label = f"sampling {shape[0]} image(s), DDIM"
    with progress.phase(label, total=len(ts), unit="denoising steps") as shown:
        for i, step in enumerate(ts):
            t = torch.full((shape[0],), step, dtype=torch.long)
            eps = model(x, t.to(device)).float()
            a_t = float(abar[step])
            a_prev = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
            x0 = (x - (1.0 - a_t) ** 0.5 * eps) / a_t**0.5
            x = a_prev**0.5 * x0 + (1.0 - a_prev) ** 0.5 * eps
            shown.advance()
    return x.clamp(-1.0, 1.0)
