"""What every ε-prediction diffusion model here shares: the denoiser, its moving average, the step.

:class:`DiffusionModel` holds Ho et al.'s U-Net (:mod:`medganbench_plugins.nn.diffusion_unet`),
optionally conditioned on an image by channel concatenation, the linear β schedule, Adam with
a linear warm-up, gradient clipping, and an exponential moving average of the weights that
sampling uses. One training step is one optimiser step on ``batch_size`` images. Sampling runs
the sampler of the model's arguments (:mod:`medganbench_plugins.nn.samplers`). ``ddpm`` (sample)
and ``cond-ddpm`` (translate) are its subclasses; :func:`diffusion_params` declares the
arguments they share, each model choosing its own defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from medganbench.core.model import Model, ModelContext
from medganbench.core.params import Param
from medganbench.errors import UsageError
from medganbench_plugins.models.limits import MAX_DEPTH, MAX_TIMESTEPS, MAX_WIDTH
from medganbench_plugins.nn.diffusion import (
    TIMESTEP_SPACINGS,
    LinearSchedule,
    Noise,
    training_loss,
)
from medganbench_plugins.nn.diffusion_unet import DiffusionUNet
from medganbench_plugins.nn.samplers import SAMPLERS, SamplerSpec, problem, run_sampler
from medganbench_plugins.nn.training import autocast, count_parameters, set_lr

#: The norms of the ε-prediction loss.
LOSS_NORMS: tuple[str, ...] = ("l2", "l1")


def parse_ints(text: str, name: str, model: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers, or one message naming the argument."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(
            f"{model}: {name}={text!r} is not a comma-separated list of integers."
        ) from None
    if not values or min(values) < 1:
        raise UsageError(f"{model}: {name}={text!r} needs positive integers.")
    return values


def ema_decay(decay: float, updates: int) -> float:
    """The moving average's decay after ``updates`` updates: min(decay, (1 + n)/(10 + n))."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class DiffusionModel(Model):
    """An ε-prediction denoiser with an EMA copy for sampling.

    Subclasses set :attr:`name` (for messages), call ``super().__init__`` with the channels of
    the image to denoise and of the conditioning image (0: none), and implement
    :meth:`warmup_factor`.
    """

    name = "diffusion"

    def __init__(
        self,
        args: Mapping[str, Any],
        ctx: ModelContext,
        channels: int,
        cond_channels: int = 0,
    ) -> None:
        super().__init__(args, ctx)
        self.schedule = LinearSchedule(
            int(self.args["timesteps"]),
            float(self.args["beta_start"]),
            float(self.args["beta_end"]),
        )
        if not 0.0 < self.schedule.beta_start < self.schedule.beta_end < 1.0:
            raise UsageError(f"{self.name} needs 0 < beta_start < beta_end < 1.")
        self.sampler = SamplerSpec(
            str(self.args["sampler"]),
            int(self.args["sample_steps"]),
            str(self.args["timestep_spacing"]),
            float(self.args["eta"]),
            bool(self.args["ddim_clip"]),
        )
        if (message := problem(self.sampler, self.schedule.timesteps)) is not None:
            raise UsageError(f"{self.name}: {message}.")
        ch_mult = parse_ints(str(self.args["ch_mult"]), "ch_mult", self.name)
        try:
            self.net = DiffusionUNet(
                ctx.image_size,
                channels,
                int(self.args["ch"]),
                ch_mult,
                int(self.args["num_res_blocks"]),
                parse_ints(str(self.args["attn_res"]), "attn_res", self.name),
                float(self.args["dropout"]),
                cond_channels,
            )
        except ValueError as exc:
            raise UsageError(f"{self.name}: {exc}.") from None
        fmt = torch.channels_last if ctx.channels_last else torch.preserve_format
        self.net.to(device=ctx.device, memory_format=fmt)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.lr = float(self.args["lr"])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self.rng = torch.Generator().manual_seed(ctx.seed + 11)
        self.updates = 0
        self.fraction = 0.0

    @property
    def sampling_steps(self) -> int:
        """Denoiser evaluations per output: the sampler's steps."""
        return self.sampler.steps

    def set_progress(self, fraction: float) -> None:
        self.fraction = fraction

    def warmup_factor(self) -> float:
        """The learning rate's factor at this step, in (0, 1]; subclasses define the warm-up."""
        raise NotImplementedError

    def _layout(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.ctx.channels_last else x

    def denoiser_step(self, x0: Tensor, cond: Tensor | None = None) -> dict[str, float]:
        """One optimiser step of the ε-prediction loss on clean images ``x0`` (given ``cond``)."""
        x0 = self._layout(x0)
        net: Callable[[Tensor, Tensor], Tensor] = self.net
        if cond is not None:
            cond = self._layout(cond)
            net = self._conditioned(self.net, cond)
        set_lr(self.opt, self.lr * self.warmup_factor())
        with autocast(self.ctx.device, self.ctx.amp):
            loss = training_loss(net, x0, self.schedule, self.rng, str(self.args["loss"]))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.net.parameters(), float(self.args["grad_clip"]))
        self.opt.step()
        self._update_ema()
        self.updates += 1
        values = torch.stack([loss.detach().float(), grad_norm.detach().float()]).tolist()
        return {"loss": values[0], "grad_norm": values[1]}

    @staticmethod
    def _conditioned(net: nn.Module, cond: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        # SR3/Palette: the source image is concatenated to x_t along the channels.
        return lambda x, t: net(torch.cat([x, cond.to(x.dtype)], dim=1), t)

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = ema_decay(float(self.args["ema_decay"]), self.updates)
        for avg, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            avg.lerp_(p, 1.0 - decay)
        for avg_b, b in zip(self.ema.buffers(), self.net.buffers(), strict=True):
            avg_b.copy_(b)

    def draw(self, shape: tuple[int, ...], generator: Noise, cond: Tensor | None = None) -> Tensor:
        """Samples of ``shape`` in [-1, 1] from the EMA denoiser (given ``cond``), float32."""
        was_training = self.ema.training
        self.ema.eval()
        net: Callable[[Tensor, Tensor], Tensor] = self.ema
        if cond is not None:
            net = self._conditioned(self.ema, self._layout(cond))

        def denoise(x: Tensor, t: Tensor) -> Tensor:
            with autocast(self.ctx.device, self.ctx.amp):
                return net(x, t).float()

        try:
            out = run_sampler(
                self.sampler, denoise, shape, self.schedule, generator, self.ctx.device
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


def diffusion_params(
    *,
    timesteps: int,
    beta_start: float,
    beta_end: float,
    lr: float,
    batch_size: int,
    sampler: str,
    sample_steps: int,
) -> tuple[Param, ...]:
    """The arguments every diffusion model here declares (its warm-up and extras aside).

    The U-Net's defaults are Ho et al.'s CIFAR-10 configuration; the schedule, learning rate,
    batch and sampler are each model's own.
    """
    return (
        Param("ch", 128, "base width of the U-Net", minimum=1, maximum=MAX_WIDTH),
        Param("ch_mult", "1,2,2,2", "width multiplier per resolution level"),
        Param("num_res_blocks", 2, "residual blocks per level", minimum=1, maximum=MAX_DEPTH),
        Param("attn_res", "16", "resolutions (px) with self-attention, comma-separated"),
        Param("dropout", 0.1, "dropout in the residual blocks", minimum=0.0),
        Param("timesteps", timesteps, "diffusion steps T", minimum=1, maximum=MAX_TIMESTEPS),
        Param("beta_start", beta_start, "β_1 of the linear schedule", minimum=0.0),
        Param("beta_end", beta_end, "β_T of the linear schedule", minimum=0.0),
        Param("loss", "l2", "norm of the ε-prediction loss", choices=LOSS_NORMS),
        Param("batch_size", batch_size, "real images per step", minimum=1),
        Param("lr", lr, "Adam learning rate", minimum=0.0),
        Param("grad_clip", 1.0, "gradient norm clipping", minimum=0.0),
        Param("ema_decay", 0.9999, "decay of the weights' moving average", minimum=0.0),
        Param(
            "sampler",
            sampler,
            "evaluation sampler. ancestral: all T denoiser calls per sample (on a CPU, hours "
            "for one evaluation at 64 px); ddim or dpm-solver++ with sample_steps=10 to 50 "
            "are far cheaper",
            choices=SAMPLERS,
        ),
        Param(
            "sample_steps",
            sample_steps,
            "denoiser evaluations per sample (ancestral: must equal timesteps)",
            minimum=1,
        ),
        Param(
            "timestep_spacing",
            "leading",
            "which trained timesteps a ddim/dpm-solver++ sampler visits: leading (Song et "
            "al.'s DDIM code: 0, k, 2k, ...), trailing (from T-1 down), linspace (both ends)",
            choices=TIMESTEP_SPACINGS,
        ),
        Param("eta", 0.0, "DDIM's η: 0 deterministic, 1 the DDPM posterior variance", minimum=0.0),
        Param(
            "ddim_clip",
            False,
            "clip DDIM's predicted x0 to [-1, 1] at every step (diffusers' DDIMScheduler "
            "default); false as in Song et al.'s code. Ancestral steps always clip",
        ),
    )
