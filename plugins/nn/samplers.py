"""The diffusion samplers by name: one place that maps a model's ``sampler`` argument to code.

- ``ancestral``: Ho et al.'s Algorithm 2 over all T steps, x̂_0 clipped to [-1, 1] at every
  step (:func:`~medganbench_plugins.nn.diffusion.ancestral_sample`);
- ``ddim``: DDIM with η (:func:`~medganbench_plugins.nn.diffusion.ddim_sample`), x̂_0 not
  clipped between steps, as in Song et al.'s code;
- ``dpm-solver++``: multistep DPM-Solver++ of order 2 ("2M", Lu et al. 2022;
  :func:`~medganbench_plugins.nn.dpm_solver.dpm_solver_2m_sample`), equal to diffusers'
  ``DPMSolverMultistepScheduler`` with ``algorithm_type="dpmsolver++"``, ``solver_order=2``.

The few-step samplers visit the timesteps of the model's ``timestep_spacing``: DDIM those of
:func:`~medganbench_plugins.nn.diffusion.sample_timesteps`, DPM-Solver++ diffusers' grid for it
(:func:`~medganbench_plugins.nn.dpm_solver.dpm_solver_timesteps`: for ``leading`` and
``linspace``, ``steps`` + 1 points with the one at t = 0 replaced by σ = 0). All three only
read the denoiser, so every model trained with the ε-prediction loss can use any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from medganbench_plugins.nn.diffusion import (
    Denoiser,
    LinearSchedule,
    Noise,
    ancestral_sample,
    ddim_sample,
)
from medganbench_plugins.nn.dpm_solver import dpm_solver_2m_sample

#: The samplers a diffusion model's ``sampler`` argument may name.
SAMPLERS: tuple[str, ...] = ("ancestral", "ddim", "dpm-solver++")


@dataclass(frozen=True)
class SamplerSpec:
    """How to sample: the sampler, its number of denoiser evaluations, spacing and η.

    Attributes:
        name: one of :data:`SAMPLERS`.
        steps: denoiser evaluations per sample (``ancestral``: T).
        spacing: the timesteps' spacing (``ddim``, ``dpm-solver++``).
        eta: DDIM's η (0: deterministic); ignored by the others.
        ddim_clip: clip DDIM's x̂_0 at every step (diffusers' default; not Song et al.'s).
    """

    name: str
    steps: int
    spacing: str = "leading"
    eta: float = 0.0
    ddim_clip: bool = False


def problem(spec: SamplerSpec, timesteps: int) -> str | None:
    """What is wrong with ``spec`` for a model trained with ``timesteps`` steps, or ``None``."""
    if spec.name not in SAMPLERS:
        return f"unknown sampler {spec.name!r}; choose one of {', '.join(SAMPLERS)}"
    if spec.name == "ancestral" and spec.steps != timesteps:
        return (
            f"ancestral sampling runs all {timesteps} steps, so sample_steps must be "
            f"{timesteps}; use sampler=ddim or sampler=dpm-solver++ for fewer"
        )
    if not 1 <= spec.steps <= timesteps:
        return f"sample_steps={spec.steps} must be between 1 and timesteps={timesteps}"
    if spec.name == "dpm-solver++" and spec.steps == timesteps:
        return f"dpm-solver++ takes at most timesteps - 1 = {timesteps - 1} sample_steps"
    if spec.eta < 0.0 or (spec.eta > 0.0 and spec.name != "ddim"):
        return f"eta={spec.eta} applies to sampler=ddim only, and cannot be negative"
    if spec.ddim_clip and spec.name != "ddim":
        return "ddim_clip applies to sampler=ddim only (ancestral always clips x̂_0)"
    return None


def run_sampler(
    spec: SamplerSpec,
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: LinearSchedule,
    generator: Noise,
    device: torch.device,
) -> Tensor:
    """Samples of ``shape`` in [-1, 1] (float32 on ``device``) from the ε-predictor ``model``.

    Raises:
        ValueError: ``spec`` does not fit ``schedule`` (see :func:`problem`).
    """
    if (message := problem(spec, schedule.timesteps)) is not None:
        raise ValueError(message)
    if spec.name == "ancestral":
        return ancestral_sample(model, shape, schedule, generator, device)
    if spec.name == "ddim":
        return ddim_sample(
            model,
            shape,
            schedule,
            spec.steps,
            generator,
            device,
            spec.spacing,
            spec.eta,
            spec.ddim_clip,
        )
    return dpm_solver_2m_sample(model, shape, schedule, spec.steps, generator, device, spec.spacing)
