"""The ``ddpm`` model: a denoising diffusion probabilistic model (Ho, Jain & Abbeel, NeurIPS 2020).

The one model of paper 002's comparison that is not a GAN. It trains under the same budgets as
the GANs (one optimiser step of the denoiser per training step; ``batch_size`` real images per
step) and is evaluated by sampling (:attr:`Task.SAMPLE`), like them. Sampling is the expensive
part and the runner meters it as evaluation time, which never counts against the budget.

As in the paper (Sec. 4, Appendix B) and its CIFAR-10 configuration:

- the U-Net denoiser ε_θ of :mod:`medganbench_plugins.nn.diffusion_unet` (ch 128, multipliers
  1, 2, 2, 2, two residual blocks per level, attention at 16 px, dropout 0.1: 35.7 M parameters);
- T = 1000, β linear from 1e-4 to 0.02, the ε-prediction loss L_simple
  (:mod:`medganbench_plugins.nn.diffusion`);
- Adam, lr 2e-4 with a linear warm-up over the first 5000 steps, gradients clipped to norm 1,
  an exponential moving average of the weights (decay 0.9999) that sampling uses.

Sampling (``sampler``): ``ancestral`` is Algorithm 2 over all T steps (``sample_steps`` must
equal ``timesteps``), x̂_0 clipped at every step as in the authors' code; ``ddim`` is DDIM
(η = ``eta``, default 0) and ``dpm-solver++`` DPM-Solver++(2M), both over ``sample_steps``
timesteps spaced by ``timestep_spacing`` (default ``leading``, Song et al.'s), far cheaper, x̂_0
not clipped between steps. All are arguments, so part of the run id and of each leaderboard row
(docs/models.md, "Diffusion samplers"). The shared machinery is
:class:`~medganbench_plugins.models.diffusion_base.DiffusionModel`.

Readings, each in docs/models.md: batch size 32 (paper 002's for every 64 px model; Ho et al.
used 128), no random flips (no other model here augments), and the moving average warms up as
decay_n = min(decay, (1 + n)/(10 + n)) after n updates, so that a short budget samples from
trained weights rather than from the initialisation (at 0.9999 the plain average keeps 99 % of
the initial weights after 100 steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.diffusion_base import DiffusionModel, diffusion_params


class DDPM(DiffusionModel):
    """ε-prediction diffusion model with an EMA denoiser for sampling."""

    task = Task.SAMPLE
    name = "ddpm"

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx, ctx.dataset.b.channels)

    def warmup_factor(self) -> float:
        """Linear warm-up over the first ``lr_warmup`` steps (Ho et al.: 5000)."""
        warmup = int(self.args["lr_warmup"])
        return min(1.0, (self.updates + 1) / warmup) if warmup else 1.0

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        return self.denoiser_step(batch.b)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` images in [-1, 1] from the EMA denoiser, (n, C, S, S) float32.

        All randomness (x_T, and each ancestral step's noise) comes from ``generator``.
        """
        size = self.ctx.image_size
        return self.draw((n, self.ctx.dataset.b.channels, size, size), generator)


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="ddpm",
            summary="DDPM (Ho et al. 2020): the one unconditional non-GAN model. U-Net ε-predictor, linear β schedule, T=1000; samples by ancestral steps, DDIM or DPM-Solver++.",
            version="2",
            factory="medganbench_plugins.models.ddpm:DDPM",
            params=(
                *diffusion_params(
                    timesteps=1000,
                    beta_start=1e-4,
                    beta_end=0.02,
                    lr=2e-4,
                    batch_size=32,
                    sampler="ancestral",
                    sample_steps=1000,
                ),
                Param("lr_warmup", 5000, "steps of linear learning-rate warm-up", minimum=0),
            ),
        )
    ]
