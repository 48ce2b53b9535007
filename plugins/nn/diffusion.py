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
on every device. A sampler's ``generator`` may also be one generator per image of the batch
(:data:`Noise`): each image's noise then comes from its own generator alone, so an image's
sample does not depend on the other images of its batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from medganbench import progress

#: ε_θ(x_t, t): the denoiser's signature.
Denoiser = Callable[[Tensor, Tensor], Tensor]
#: Where a sampler's noise comes from: one generator, or one per image of the batch.
Noise = torch.Generator | Sequence[torch.Generator]


def image_generators(images: Tensor) -> list[torch.Generator]:
    """One CPU generator per image of ``images`` (N, ...), seeded by a hash of its float32 pixels
    (the first 8 bytes of their SHA-256).

    What a diffusion translator draws its sampling noise from: a translation is then a function
    of the weights and its source image alone, the same on every device and whatever the batch
    around it or the run that made the model, while different images get independent noise.
    """
    generators = []
    for image in images:
        data = image.detach().float().cpu().contiguous().numpy().tobytes()
        seed = int.from_bytes(hashlib.sha256(data).digest()[:8], "little") & (2**63 - 1)
        generators.append(torch.Generator().manual_seed(seed))
    return generators


def gaussian(shape: tuple[int, ...], noise: Noise) -> Tensor:
    """Standard normal noise of ``shape`` on the CPU, from ``noise``: one generator for the
    whole batch, or one per image (``shape[0]`` of them), each drawing its image's values."""
    if isinstance(noise, torch.Generator):
        return torch.randn(shape, generator=noise)
    if len(noise) != shape[0]:
        raise ValueError(f"{len(noise)} generators for a batch of {shape[0]}")
    return torch.stack([torch.randn(shape[1:], generator=g) for g in noise])


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
    model: Denoiser,
    x0: Tensor,
    schedule: LinearSchedule,
    generator: torch.Generator,
    norm: str = "l2",
) -> Tensor:
    """L_simple on a batch of clean images x0 in [-1, 1] (t and ε drawn from ``generator``).

    ``norm`` ``"l2"`` is Ho et al.'s squared error; ``"l1"`` the absolute error Palette compares
    it with (Saharia et al. 2022, Sec. 5.1: L1 gives less diverse samples).
    """
    n = x0.shape[0]
    t = torch.randint(0, schedule.timesteps, (n,), generator=generator)
    noise = _randn(tuple(x0.shape), generator, x0)
    abar = _at(schedule.alphas_cumprod, t, x0)
    x_t = abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise
    error = model(x_t, t.to(x0.device)).float() - noise.float()
    return error.abs().mean() if norm == "l1" else error.square().mean()


@torch.no_grad()
def ancestral_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    generator: Noise,
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
    x = gaussian(shape, generator).to(device)
    label = f"sampling {shape[0]} image(s), ancestral"
    with progress.phase(label, total=schedule.timesteps, unit="denoising steps") as shown:
        for step in reversed(range(schedule.timesteps)):
            t = torch.full((shape[0],), step, dtype=torch.long)
            eps = model(x, t.to(device)).float()
            x0 = ((x - _at((1.0 - abar).sqrt(), t, x) * eps) / _at(abar.sqrt(), t, x)).clamp(-1, 1)
            mean = _at(coef_x0, t, x) * x0 + _at(coef_xt, t, x) * x
            noise = gaussian(shape, generator).to(device)
            x = mean + (_at(sigma2, t, x).sqrt() * noise if step > 0 else 0.0)
            shown.advance()
    return x.clamp(-1.0, 1.0)


#: How a sampler picks its timesteps among the T trained ones (names as in diffusers and Lin et
#: al. 2023, "Common diffusion noise schedules and sample steps are flawed", Table 2).
TIMESTEP_SPACINGS: tuple[str, ...] = ("leading", "trailing", "linspace")


def sample_timesteps(timesteps: int, steps: int, spacing: str = "leading") -> list[int]:
    """The 0-based timesteps a ``steps``-step sampler visits, in the order it visits them.

    - ``leading``: 0, k, 2k, … (``steps`` − 1)·k with k = ``timesteps`` // ``steps``: Song et
      al.'s DDIM code ("uniform" skip) and diffusers' ``timestep_spacing="leading"`` with
      ``steps_offset=0``; the largest timestep visited is below T − 1 (T − k).
    - ``trailing``: round(T, T − T/steps, …, T/steps) − 1: starts at T − 1, the pure-noise end.
    - ``linspace``: round(linspace(0, T − 1, steps)): both ends.

    Raises:
        ValueError: ``steps`` is not in [1, ``timesteps``] or ``spacing`` is unknown.
    """
    if not 1 <= steps <= timesteps:
        raise ValueError(f"sampling steps must be in [1, {timesteps}], got {steps}")
    if spacing == "leading":
        ts = np.arange(steps, dtype=np.int64) * (timesteps // steps)
    elif spacing == "trailing":
        ts = np.round(np.arange(timesteps, 0, -timesteps / steps)).astype(np.int64) - 1
    elif spacing == "linspace":
        ts = np.linspace(0, timesteps - 1, steps).round().astype(np.int64)
    else:
        raise ValueError(f"unknown timestep spacing {spacing!r}; choose one of {TIMESTEP_SPACINGS}")
    return sorted({int(t) for t in ts}, reverse=True)


@torch.no_grad()
def ddim_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    steps: int,
    generator: Noise,
    device: torch.device,
    spacing: str = "leading",
    eta: float = 0.0,
    clip_x0: bool = False,
) -> Tensor:
    """DDIM (Song, Meng & Ermon 2021, eq. 12) over ``steps`` timesteps; x_0 in [-1, 1], float32.

    σ_t = η·√((1 − ᾱ_prev)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev) (eq. 16): η = 0 is deterministic given
    x_T, η = 1 the DDPM posterior's variance. As in Song et al.'s code, the predicted x̂_0 is not
    clipped between steps (diffusers' ``DDIMScheduler`` clips it by default,
    ``clip_sample=True``); only the result is clipped to [-1, 1]. ``clip_x0`` clips x̂_0 at every
    step as diffusers does (keeping the predicted ε, as it does). The step after the last listed
    timestep goes to ᾱ = 1 (diffusers' ``set_alpha_to_one=True``). Noise (x_T, and each step's
    where η > 0) comes from ``generator``.
    """
    abar = schedule.alphas_cumprod
    ts = sample_timesteps(schedule.timesteps, steps, spacing)
    x = gaussian(shape, generator).to(device)
    label = f"sampling {shape[0]} image(s), DDIM"
    with progress.phase(label, total=len(ts), unit="denoising steps") as shown:
        for i, step in enumerate(ts):
            t = torch.full((shape[0],), step, dtype=torch.long)
            eps = model(x, t.to(device)).float()
            a_t = float(abar[step])
            a_prev = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
            sigma = eta * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)) ** 0.5
            x0 = (x - (1.0 - a_t) ** 0.5 * eps) / a_t**0.5
            if clip_x0:
                x0 = x0.clamp(-1.0, 1.0)
            x = a_prev**0.5 * x0 + (1.0 - a_prev - sigma**2) ** 0.5 * eps
            if sigma > 0.0:
                x = x + sigma * gaussian(shape, generator).to(device)
            shown.advance()
    return x.clamp(-1.0, 1.0)
