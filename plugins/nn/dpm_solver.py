"""Multistep DPM-Solver++ of order 2 ("2M"; Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided
Sampling of Diffusion Probabilistic Models", Algorithm 2) on the discrete schedule of
:class:`~medganbench_plugins.nn.diffusion.LinearSchedule`, for ε-prediction denoisers.

With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t) and λ_t = log(α_t / σ_t), every step turns the denoiser's ε
into the data prediction x̂_0 = (x_t − σ_t ε) / α_t and moves from timestep s to the next one t
(h = λ_t − λ_s > 0):

- first order (the first step): x_t = (σ_t / σ_s) x_s − α_t (e^{−h} − 1) x̂_0(s);
- second order (the steps after it), with the previous step's x̂_0 and r = (λ_s − λ_prev) / h:
  D = (1 + 1/(2r)) x̂_0(s) − 1/(2r) x̂_0(prev), x_t = (σ_t / σ_s) x_s − α_t (e^{−h} − 1) D;
- the last step goes to σ = 0 (λ = ∞, e^{−h} = 0) and is first order, so the sample is the last
  evaluation's x̂_0. The second-order formula is undefined there (r = 0), which is why diffusers
  takes its last step first-order whenever ``final_sigmas_type="zero"``, at any number of steps;
  its ``lower_order_final`` "fewer than 15 steps" rule adds nothing for order 2.

The result equals diffusers' ``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
solver_order=2, solver_type="midpoint", lower_order_final=True, final_sigmas_type="zero",
thresholding=False, use_karras_sigmas=False, steps_offset=0)`` (validated against diffusers
0.42.1, tests/plugins/models/test_diffusion_samplers.py), to about 1e-6: diffusers keeps its
σ = √((1 − ᾱ)/ᾱ) in float32 and maps them back to α_t = 1/√(σ² + 1) = √ᾱ_t and σ_t = σ·α_t,
the same numbers; here the coefficients come from the float64 schedule, the images stay float32.

Conventions:

- **Timesteps** (:func:`dpm_solver_timesteps`) are diffusers' for this scheduler, which differ
  from DDIM's (:func:`~medganbench_plugins.nn.diffusion.sample_timesteps`) for two spacings:
  ``leading`` and ``linspace`` lay ``steps`` + 1 points and drop the one at t = 0 (σ = 0 takes
  its place), so no evaluation is spent at t = 0; ``trailing`` is DDIM's grid.
- **No clipping of x̂_0 between steps** (diffusers' ``thresholding=False``; Lu et al.'s
  thresholding is for pixel-space guided models); only the result is clipped to [-1, 1], as in
  :func:`~medganbench_plugins.nn.diffusion.ddim_sample`.
- x_T is drawn on the CPU (:func:`~medganbench_plugins.nn.diffusion.gaussian`: one generator,
  or one per image) and moved to ``device``, so the same generator state gives the same images
  on every device; the sampler is otherwise deterministic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from medganbench import progress
from medganbench_plugins.nn.diffusion import (
    Denoiser,
    LinearSchedule,
    Noise,
    gaussian,
    sample_timesteps,
)


def dpm_solver_timesteps(timesteps: int, steps: int, spacing: str = "leading") -> list[int]:
    """The 0-based timesteps DPM-Solver++ evaluates the denoiser at, in order (then σ = 0).

    diffusers' ``DPMSolverMultistepScheduler.set_timesteps`` with ``steps_offset=0``:

    - ``leading``: k·``steps``, …, 2k, k with k = ``timesteps`` // (``steps`` + 1);
    - ``trailing``: as :func:`~medganbench_plugins.nn.diffusion.sample_timesteps`, from T − 1;
    - ``linspace``: round(linspace(0, T − 1, ``steps`` + 1)) without its 0.

    Raises:
        ValueError: ``steps`` is not in [1, ``timesteps`` − 1] or ``spacing`` is unknown.
    """
    if not 1 <= steps < timesteps:
        raise ValueError(
            f"DPM-Solver++ sampling steps must be in [1, {timesteps - 1}], got {steps}"
        )
    if spacing == "trailing":
        listed: list[int] = sample_timesteps(timesteps, steps, spacing)
        return listed
    listed = sample_timesteps(timesteps, steps + 1, spacing)
    return listed[:-1]


@torch.no_grad()
def dpm_solver_2m_sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    steps: int,
    generator: Noise,
    device: torch.device,
    spacing: str = "leading",
) -> Tensor:
    """DPM-Solver++(2M) over ``steps`` denoiser evaluations; x_0 in [-1, 1], float32.

    Raises:
        ValueError: as :func:`dpm_solver_timesteps`.
    """
    abar = schedule.alphas_cumprod
    ts = dpm_solver_timesteps(schedule.timesteps, steps, spacing)
    alpha = [math.sqrt(float(abar[step])) for step in ts]
    sigma = [math.sqrt(1.0 - float(abar[step])) for step in ts]
    lam = [math.log(a / s) for a, s in zip(alpha, sigma, strict=True)]
    x = gaussian(shape, generator).to(device)
    previous_x0: Tensor | None = None
    label = f"sampling {shape[0]} image(s), DPM-Solver++(2M)"
    with progress.phase(label, total=len(ts), unit="denoising steps") as shown:
        for i, step in enumerate(ts):
            t = torch.full((shape[0],), step, dtype=torch.long)
            eps = model(x, t.to(device)).float()
            x0 = (x - sigma[i] * eps) / alpha[i]
            if i + 1 == len(ts):
                # To σ = 0: σ_t / σ_s = 0 and e^{−h} = 0, so the first-order update is x̂_0.
                x = x0
            else:
                h = lam[i + 1] - lam[i]
                d = x0
                if previous_x0 is not None:
                    r = (lam[i] - lam[i - 1]) / h
                    d = x0 + (x0 - previous_x0) / (2.0 * r)
                x = (sigma[i + 1] / sigma[i]) * x - (alpha[i + 1] * math.expm1(-h)) * d
                previous_x0 = x0
            shown.advance()
    return x.clamp(-1.0, 1.0)
