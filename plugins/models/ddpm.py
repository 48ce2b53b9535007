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
equal ``timesteps``); ``ddim`` is DDIM (η = 0) over ``sample_steps`` evenly spaced steps, far
cheaper. Both arguments are part of the run id and of each leaderboard row.

Readings, each in docs/models.md: batch size 32 (paper 002's for every 64 px model; Ho et al.
used 128), no random flips (no other model here augments), and the moving average warms up as
decay_n = min(decay, (1 + n)/(10 + n)) after n updates, so that a short budget samples from
trained weights rather than from the initialisation (at 0.9999 the plain average keeps 99 % of
the initial weights after 100 steps).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import Model, ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import UsageError
from medganbench_plugins.models.limits import MAX_DEPTH, MAX_TIMESTEPS, MAX_WIDTH
from medganbench_plugins.nn.diffusion import (
    LinearSchedule,
    ancestral_sample,
    ddim_sample,
    training_loss,
)
from medganbench_plugins.nn.diffusion_unet import DiffusionUNet
from medganbench_plugins.nn.training import autocast, count_parameters, set_lr

SAMPLERS: tuple[str, ...] = ("ancestral", "ddim")


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(
            f"ddpm: {name}={text!r} is not a comma-separated list of integers."
        ) from None
    if not values or min(values) < 1:
        raise UsageError(f"ddpm: {name}={text!r} needs positive integers.")
    return values


def ema_decay(decay: float, updates: int) -> float:
    """The moving average's decay after ``updates`` updates: min(decay, (1 + n)/(10 + n))."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class DDPM(Model):
    """ε-prediction diffusion model with an EMA denoiser for sampling."""

    task = Task.SAMPLE

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.schedule = LinearSchedule(
            int(self.args["timesteps"]),
            float(self.args["beta_start"]),
            float(self.args["beta_end"]),
        )
        if not 0.0 < self.schedule.beta_start < self.schedule.beta_end < 1.0:
            raise UsageError("ddpm needs 0 < beta_start < beta_end < 1.")
        self.sampler = str(self.args["sampler"])
        self.sample_steps = int(self.args["sample_steps"])
        if self.sampler == "ancestral" and self.sample_steps != self.schedule.timesteps:
            raise UsageError(
                f"ddpm: ancestral sampling runs all {self.schedule.timesteps} steps, so "
                f"sample_steps must be {self.schedule.timesteps}; use sampler=ddim for fewer."
            )
        if self.sample_steps > self.schedule.timesteps:
            raise UsageError(
                f"ddpm: sample_steps={self.sample_steps} exceeds timesteps={self.schedule.timesteps}."
            )
        ch_mult = _ints(str(self.args["ch_mult"]), "ch_mult")
        try:
            self.net = DiffusionUNet(
                ctx.image_size,
                ctx.dataset.b.channels,
                int(self.args["ch"]),
                ch_mult,
                int(self.args["num_res_blocks"]),
                _ints(str(self.args["attn_res"]), "attn_res"),
                float(self.args["dropout"]),
            )
        except ValueError as exc:
            raise UsageError(f"ddpm: {exc}.") from None
        fmt = torch.channels_last if ctx.channels_last else torch.preserve_format
        self.net.to(device=ctx.device, memory_format=fmt)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.lr = float(self.args["lr"])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self.rng = torch.Generator().manual_seed(ctx.seed + 11)
        self.updates = 0

    def train_step(self, batch: TrainBatch) -> dict[str, float]:
        x0 = batch.b
        if self.ctx.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        warmup = int(self.args["lr_warmup"])
        set_lr(self.opt, self.lr * min(1.0, (self.updates + 1) / warmup) if warmup else self.lr)
        with autocast(self.ctx.device, self.ctx.amp):
            loss = training_loss(self.net, x0, self.schedule, self.rng)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.net.parameters(), float(self.args["grad_clip"]))
        self.opt.step()
        self._update_ema()
        self.updates += 1
        values = torch.stack([loss.detach().float(), grad_norm.detach().float()]).tolist()
        return {"loss": values[0], "grad_norm": values[1]}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = ema_decay(float(self.args["ema_decay"]), self.updates)
        for avg, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            avg.lerp_(p, 1.0 - decay)
        for avg_b, b in zip(self.ema.buffers(), self.net.buffers(), strict=True):
            avg_b.copy_(b)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` images in [-1, 1] from the EMA denoiser, (n, C, S, S) float32.

        All randomness (x_T, and each ancestral step's noise) comes from ``generator``.
        """
        shape = (n, self.ctx.dataset.b.channels, self.ctx.image_size, self.ctx.image_size)
        was_training = self.ema.training
        self.ema.eval()

        def denoise(x: Tensor, t: Tensor) -> Tensor:
            with autocast(self.ctx.device, self.ctx.amp):
                return self.ema(x, t).float()

        try:
            if self.sampler == "ancestral":
                out = ancestral_sample(denoise, shape, self.schedule, generator, self.ctx.device)
            else:
                out = ddim_sample(
                    denoise, shape, self.schedule, self.sample_steps, generator, self.ctx.device
                )
        finally:
            self.ema.train(was_training)
        return out.float().contiguous()

    def trained_modules(self) -> dict[str, nn.Module]:
        # The moving average is updated from the averaged weights, so it stays equal too.
        return {"net": self.net, "ema": self.ema}

    def inference_modules(self) -> dict[str, nn.Module]:
        # Sampling uses the moving average only (the trained denoiser is not shipped).
        return {"ema": self.ema}

    def eval_mode(self) -> None:
        self.net.eval()
        self.ema.eval()

    def train_mode(self) -> None:
        self.net.train()

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.rng.get_state(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.rng.set_state(state["rng"])
        self.updates = int(state["updates"])

    def parameter_count(self) -> int:
        """Learned parameters of the denoiser (its moving average is a copy, not counted)."""
        return count_parameters((self.net,))


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="ddpm",
            summary="DDPM (Ho et al. 2020): the one non-GAN model. U-Net ε-predictor, linear β schedule, T=1000; samples by ancestral steps or DDIM.",
            version="1",
            factory="medganbench_plugins.models.ddpm:DDPM",
            params=(
                Param("ch", 128, "base width of the U-Net", minimum=1, maximum=MAX_WIDTH),
                Param("ch_mult", "1,2,2,2", "width multiplier per resolution level"),
                Param(
                    "num_res_blocks",
                    2,
                    "residual blocks per level",
                    minimum=1,
                    maximum=MAX_DEPTH,
                ),
                Param("attn_res", "16", "resolutions (px) with self-attention, comma-separated"),
                Param("dropout", 0.1, "dropout in the residual blocks", minimum=0.0),
                Param("timesteps", 1000, "diffusion steps T", minimum=1, maximum=MAX_TIMESTEPS),
                Param("beta_start", 1e-4, "β_1 of the linear schedule", minimum=0.0),
                Param("beta_end", 0.02, "β_T of the linear schedule", minimum=0.0),
                Param("batch_size", 32, "real images per step", minimum=1),
                Param("lr", 2e-4, "Adam learning rate", minimum=0.0),
                Param("lr_warmup", 5000, "steps of linear learning-rate warm-up", minimum=0),
                Param("grad_clip", 1.0, "gradient norm clipping", minimum=0.0),
                Param("ema_decay", 0.9999, "decay of the weights' moving average", minimum=0.0),
                Param(
                    "sampler",
                    "ancestral",
                    "evaluation sampler. ancestral: 1000 denoiser calls per sample — on a CPU, "
                    "hours for one evaluation at 64 px; there use ddim with sample_steps=10 to 50",
                    choices=SAMPLERS,
                ),
                Param(
                    "sample_steps",
                    1000,
                    "denoiser evaluations per sample (ancestral: must equal timesteps)",
                    minimum=1,
                ),
            ),
        )
    ]
