"""The few-step diffusion of DDGAN and SynDiff: forward pairs (x_t, x_{t+1}) and posterior steps.

T large steps discretise the variance-preserving SDE with a linear β(s) from ``beta_min`` to
``beta_max`` (Xiao et al., ICLR 2022; SynDiff's ``train.py``, ``use_geometric`` off). With
s_i = i/T · (1 − 10⁻³) + 10⁻³ for i = 0 … T,

    σ²(s) = 1 − exp(−½ s² (β_max − β_min) − s β_min),   ᾱ_i = 1 − σ²(s_i),
    β_i = 1 − ᾱ_i / ᾱ_{i−1} (i = 1 … T),   β_0 = 1e-8,

computed in float64 and then, as the authors do, kept in float32 (everything below is float32
arithmetic on them). Forward: a_i = √(1 − β_i), σ_i = √β_i, ā_t = ∏_{i≤t} a_i (including a_0),
σ̄_t = √(1 − ā_t²); x_t = ā_t x_0 + σ̄_t ε and x_{t+1} = a_{t+1} x_t + σ_{t+1} ε' for t in
0 … T−1. Posterior q(x_t | x_{t+1}, x_0) with the step index t (its β is β_{t+1}): with
α_k = 1 − β_{k+1}, ᾱ'_t = ∏_{k≤t} α_k and ᾱ'_{−1} = 1,

    mean = β_{t+1} √ᾱ'_{t−1} / (1 − ᾱ'_t) · x_0 + (1 − ᾱ'_{t−1}) √α_t / (1 − ᾱ'_t) · x_{t+1},
    var  = β_{t+1} (1 − ᾱ'_{t−1}) / (1 − ᾱ'_t),

and a draw adds √var · ε except at t = 0, where the step returns its mean (= x_0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: The authors' offset of the first continuous time and their β_0.
EPS_SMALL = 1e-3
BETA_0 = 1e-8

#: x̂_0 = predict(x_{t+1}, t, z) for a batch; z drawn by the caller.
X0Predictor = Callable[[Tensor, Tensor], Tensor]
#: Standard-normal noise shaped like its argument.
NoiseSource = Callable[[Tensor], Tensor]


def betas(num_timesteps: int, beta_min: float, beta_max: float) -> Tensor:
    """β_0 … β_T (float32, T + 1 values) of the discretised VP SDE."""
    s = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
    s = s * (1.0 - EPS_SMALL) + EPS_SMALL
    var = 1.0 - torch.exp(2.0 * (-0.25 * s**2 * (beta_max - beta_min) - 0.5 * s * beta_min))
    alpha_bars = 1.0 - var
    rest = 1.0 - alpha_bars[1:] / alpha_bars[:-1]
    return torch.cat([torch.tensor([BETA_0], dtype=torch.float64), rest]).float()


def _at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    return values.to(like.device)[t].view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def randn_like(like: Tensor, generator: torch.Generator) -> Tensor:
    """Standard-normal noise shaped like ``like``, from ``generator``."""
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


@dataclass(frozen=True)
class DDGANSchedule:
    """Coefficients of the T-step diffusion (see the module docstring); float32 tensors, CPU.

    Attributes:
        a_s: a_0 … a_T. sigmas: σ_0 … σ_T.
        a_s_cum: ā_0 … ā_T. sigmas_cum: σ̄_0 … σ̄_T.
        mean_x0, mean_xt: the posterior mean's coefficients of x_0 and x_{t+1}, t = 0 … T−1.
        log_var: log of the posterior variance (clipped at 1e-20), t = 0 … T−1.
    """

    num_timesteps: int
    a_s: Tensor
    sigmas: Tensor
    a_s_cum: Tensor
    sigmas_cum: Tensor
    mean_x0: Tensor
    mean_xt: Tensor
    log_var: Tensor

    @classmethod
    def build(cls, num_timesteps: int, beta_min: float, beta_max: float) -> DDGANSchedule:
        b = betas(num_timesteps, beta_min, beta_max)
        a_s = torch.sqrt(1.0 - b)
        a_s_cum = torch.cumprod(a_s, 0)
        post = b[1:]
        alphas = 1.0 - post
        cum = torch.cumprod(alphas, 0)
        cum_prev = torch.cat([torch.ones(1), cum[:-1]])
        variance = post * (1.0 - cum_prev) / (1.0 - cum)
        return cls(
            num_timesteps=num_timesteps,
            a_s=a_s,
            sigmas=torch.sqrt(b),
            a_s_cum=a_s_cum,
            sigmas_cum=torch.sqrt(1.0 - a_s_cum**2),
            mean_x0=post * torch.sqrt(cum_prev) / (1.0 - cum),
            mean_xt=(1.0 - cum_prev) * torch.sqrt(alphas) / (1.0 - cum),
            log_var=torch.log(variance.clamp(min=1e-20)),
        )

    def q_sample_pairs(
        self, x0: Tensor, t: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """(x_t, x_{t+1}) for steps ``t`` (N,) in 0 … T−1; the x_{t+1} noise is drawn first."""
        noise_step = randn_like(x0, generator)
        x_t = _at(self.a_s_cum, t, x0) * x0 + _at(self.sigmas_cum, t, x0) * randn_like(
            x0, generator
        )
        x_tp1 = _at(self.a_s, t + 1, x0) * x_t + _at(self.sigmas, t + 1, x0) * noise_step
        return x_t, x_tp1

    def posterior_sample(self, x0: Tensor, x_tp1: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t ~ q(x_t | x_{t+1}, x_0) with standard-normal ``noise`` (the mean at t = 0)."""
        mean = _at(self.mean_x0, t, x_tp1) * x0 + _at(self.mean_xt, t, x_tp1) * x_tp1
        keep = (t != 0).to(x_tp1.dtype).view(-1, *([1] * (x_tp1.dim() - 1)))
        return mean + keep * torch.exp(0.5 * _at(self.log_var, t, x_tp1)) * noise

    def sample(self, predict: X0Predictor, x_T: Tensor, draw: NoiseSource) -> Tensor:
        """The reverse chain from x_T: T calls of ``predict(x_{t+1}, t)``, each followed by a
        posterior draw with noise ``draw(x_{t+1})`` (SynDiff's ``sample_from_model``). Returns
        x_0."""
        x = x_T
        for step in reversed(range(self.num_timesteps)):
            t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
            x0 = predict(x, t)
            x = self.posterior_sample(x0, x, t, draw(x))
        return x
