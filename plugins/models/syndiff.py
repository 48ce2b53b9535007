"""The ``syndiff`` model: SynDiff, unsupervised translation by adversarial diffusion
(Özbey, Dalmaz, Dar, Bedel, Öztürk, Güngör & Çukur, IEEE TMI 2023).

Written from the authors' code (github.com/icon-lab/SynDiff at 8e5064e: ``train.py``,
``test.py``, ``backbones/``) and its published training command (README): 256 px,
``num_channels_dae`` 64, ``ch_mult`` 1 1 2 2 4 4, ``num_res_blocks`` 2, T = 4, batch size 1,
``ngf`` 64, positional time embedding, EMA 0.999, R1 γ = 1 every 10 steps, ``z_emb_dim`` 256,
lr_d 1e-4, lr_g 1.6e-4, λ_L1 = 0.5; from the script's defaults: nz 100, ``n_mlp`` 3 (four dense layers map z),
``t_emb_dim`` 256, attention at 16 px, β from 0.1 to 20, Adam β = (0.5, 0.9), cosine decay of
the learning rates to 1e-5. Each is a declared argument with that default, except what the run
and the data set fix: the image size, ``num_channels`` (C_A + C_B, 2 for the authors'
one-channel contrasts) and the positional embedding (the only one built).

Eight networks. Domain A is the authors' contrast 1, B contrast 2.

- Diffusive generators (:class:`~medganbench_plugins.nn.ncsnpp.NCSNpp`, adaptive group norm on a
  latent z): ``g_ab`` (their ``gen_diffusive_2``) predicts x̂_0 of B from x_{t+1} of B and an A
  image, concatenated; ``g_ba`` (``gen_diffusive_1``) the reverse. Each takes and returns
  C_A + C_B channels (the authors' ``num_channels`` 2 for one-channel contrasts) and the first
  C_target output channels are x̂_0, as in the authors' ``x_0[:, [0]]``.
- Diffusive discriminators (:class:`~medganbench_plugins.nn.diffusion_discriminator.
  DiffusionDiscriminator`, the authors' ``Discriminator_large``): ``d_a``, ``d_b`` judge
  (x_t, t, x_{t+1}) of their domain.
- Non-diffusive module: ResNet generators ``f_ab``, ``f_ba`` (``gen_non_diffusive_1to2``,
  ``_2to1``; ``define_G(netG="resnet_6blocks")``) and 70×70 PatchGANs ``c_a``, ``c_b``
  (``disc_non_diffusive_cycle1``, ``2``; ``define_D()``). Their ``generator_resnet.py`` is
  CycleGAN's reference code with instance norm, no dropout, reflection padding and the
  N(0, 0.02) init, which are :class:`~medganbench_plugins.nn.generators.ResnetGenerator` (6
  blocks, 7×7 stem) and :class:`~medganbench_plugins.nn.discriminators.PatchDiscriminator`
  (n_layers 3), shared with ``cyclegan``; the authors fix their width at 64 (``define_G``'s and
  ``define_D``'s defaults: the command's ``ngf`` reaches only the diffusive discriminators).

One training step is one iteration of ``train.py`` (batch of ``batch_size`` unpaired A and B
images; the diffusion of :mod:`medganbench_plugins.nn.ddgan`, T = ``num_timesteps``):

1. discriminators: t ~ U{0 … T−1} per image, (x_t, x_{t+1}) from the forward process;
   softplus(−D(x_t, t, x_{t+1})) on real pairs, plus γ/2·E‖∇_{x_t} D‖² (R1) on steps
   0, ``lazy_reg``, 2·``lazy_reg`` …; fake x_t drawn from q(x_t | x_{t+1}, x̂_0) with
   x̂_0 = G(x_{t+1} ⊕ F(real other domain), t, z), z ~ N(0, I); softplus(D(fake)). PatchGANs:
   softplus(−C(real)) + softplus(C(F(real other domain))). One Adam step on all four.
2. generators (new t, pairs and z): adversarial softplus(−D(fake x_t, t, x_{t+1})) and
   softplus(−C(F(·))), plus λ_L1·(‖x̂_0 − x_0‖₁ of both diffusive generators — whose source is
   F's translation of that very x_0, so it is a cycle through both modules) plus λ_L1·(the
   non-diffusive cycle ‖F(F(x)) − x‖₁ of both domains). One Adam step on all four, then the
   moving averages.

Translation (``test.py``'s ``sample_from_model``): x_T ~ N(0, I), then T steps of x̂_0 =
G(x_{t+1} ⊕ source, t, z) and a posterior draw (the last step returns x̂_0), with the moving
average of the diffusive generator when ``use_ema`` (the authors save and test the averaged
weights). ``num_timesteps`` (4) generator evaluations per translated image.

Readings (differences from the authors' code):

- Learning rates: their cosine annealing over epochs (T_max = epochs, η_min = 1e-5, stepped
  once per epoch) is written against the budget: lr = η_min + (lr₀ − η_min)(1 + cos πf)/2 at
  budget fraction f, updated every step.
- Their discriminator step also runs the generators with gradients and then discards those
  gradients; here the generators run under ``no_grad`` there (the same update). The two
  discriminator optimisers per module are one Adam over all four discriminators, and the four
  generator optimisers one Adam over all four generators (Adam is per parameter: the same
  update). The PatchGANs' fake inputs are the translations already made for the diffusive
  discriminators (the authors recompute them with the same, unchanged networks).
- Moving averages: as theirs, started at the first update as a copy of the updated weights,
  then ema ← 0.999·ema + 0.001·w; kept for the diffusive generators only (the authors also
  average the non-diffusive ones, which translation never uses).
- Translation noise (x_T, each step's posterior noise and each step's z): every source image
  draws from its own CPU generator seeded by a hash of its pixels
  (:func:`~medganbench_plugins.nn.diffusion.image_generators`, as ``cond-ddpm``), so a
  translation depends only on the weights and its source image (not on the batch, the device
  or earlier calls). Outputs are clamped to [−1, 1] (the last step returns a tanh output, so
  this changes nothing).
- Sizes: the generator keeps its ``ch_mult`` levels at any size divisible by
  2^(len(ch_mult) − 1) (32 px with the default six: a 1×1 bottleneck) and refuses others; the
  diffusive discriminator has min(6, log₂ S) down blocks (the authors' six from 64 px up) and
  groups its minibatch deviation by the largest divisor of the batch up to 4; at least 32 px
  (the PatchGAN). The authors' network is built at 64 px and 256 px (parameter counts in
  tests/plugins/models/test_syndiff.py).
- Checked against the authors' code run on the CPU (outside this repository): the parameter
  counts of all eight networks at 64 and 256 px are theirs exactly (tests/plugins/models/
  test_syndiff.py); with their weights copied in, the diffusive generator's output agrees to
  1e-8 and the discriminator's logits to float32 rounding; one iteration of their training
  loop and one :meth:`SynDiff.train_step`, from equal weights and equal random draws, give the
  same eight losses to within 3e-7 and the same gradients to float32 rounding.
- Not ported: ``dropout`` (0 in SynDiff), the Fourier embedding and the other NCSN++ variants
  their script can select, channels-last memory format (ignored), their per-epoch validation.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.syndiff_nets import build_nets
from medganbench_plugins.models.syndiff_params import syndiff_params
from medganbench_plugins.nn.ddgan import DDGANSchedule, randn_like
from medganbench_plugins.nn.diffusion import gaussian, image_generators
from medganbench_plugins.nn.training import (
    autocast,
    cosine_lr,
    count_parameters,
    loss_tensors,
    make_optimizer,
    set_lr,
    set_requires_grad,
)

LOSS_NAMES: tuple[str, ...] = (
    "d_real",
    "d_fake",
    "r1",
    "d_cycle",
    "g_adv",
    "g_cycle_adv",
    "l1_diffusive",
    "cycle",
)


class SynDiff(AdversarialModel):
    """SynDiff: two adversarial diffusion generators trained through a cycle-consistent module."""

    task = Task.TRANSLATE
    unpaired_training = True
    cycle_consistent = True
    # The authors train under DDP with a per-process batch size, as CycleGAN's reference does.
    batch_scaling = "per-device"

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        size, ca, cb = ctx.image_size, ctx.dataset.a.channels, ctx.dataset.b.channels
        self.channels = {"a": ca, "b": cb}
        self.nz = int(self.args["nz"])
        nets = build_nets(self.args, size, ca, cb)
        self.g_ab, self.g_ba, self.f_ab, self.f_ba = nets.g_ab, nets.g_ba, nets.f_ab, nets.f_ba
        self.d_a, self.d_b, self.c_a, self.c_b = nets.d_a, nets.d_b, nets.c_a, nets.c_b
        for net in self.nets:
            net.to(ctx.device)
        self.use_ema = bool(self.args["use_ema"])
        self.ema_ab = copy.deepcopy(self.g_ab).requires_grad_(False) if self.use_ema else None
        self.ema_ba = copy.deepcopy(self.g_ba).requires_grad_(False) if self.use_ema else None
        self.schedule = DDGANSchedule.build(
            int(self.args["num_timesteps"]),
            float(self.args["beta_min"]),
            float(self.args["beta_max"]),
        )
        self.lr_g, self.lr_d = float(self.args["lr_g"]), float(self.args["lr_d"])
        beta1, beta2 = float(self.args["beta1"]), float(self.args["beta2"])
        self.opt_g = make_optimizer("adam", _params(self.generators), self.lr_g, beta1, beta2)
        self.opt_d = make_optimizer("adam", _params(self.critics), self.lr_d, beta1, beta2)
        self.rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 3)
        self.updates = 0

    @property
    def generators(self) -> tuple[nn.Module, ...]:
        """g_ab, g_ba (diffusive), f_ab, f_ba (non-diffusive)."""
        return (self.g_ab, self.g_ba, self.f_ab, self.f_ba)

    @property
    def critics(self) -> tuple[nn.Module, ...]:
        """d_a, d_b (diffusive), c_a, c_b (PatchGAN)."""
        return (self.d_a, self.d_b, self.c_a, self.c_b)

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        return self.generators + self.critics

    def _averages(self) -> dict[str, nn.Module]:
        if self.ema_ab is None or self.ema_ba is None:
            return {}
        return {"ema_ab": self.ema_ab, "ema_ba": self.ema_ba}

    def trained_modules(self) -> dict[str, nn.Module]:
        names = ("g_ab", "g_ba", "f_ab", "f_ba", "d_a", "d_b", "c_a", "c_b")
        return {**dict(zip(names, self.nets, strict=True)), **self._averages()}

    def inference_modules(self) -> dict[str, nn.Module]:
        # Translation uses the moving averages when kept (use_ema), else the trained weights.
        averages = self._averages()
        g_ab = averages.get("ema_ab", self.g_ab)
        g_ba = averages.get("ema_ba", self.g_ba)
        return {"g_ab": g_ab, "g_ba": g_ba}

    @property
    def sampling_steps(self) -> int:
        """Generator evaluations per translated image: the T steps of the reverse chain."""
        return int(self.args["num_timesteps"])

    @property
    def eval_directions(self) -> tuple[str, ...]:
        other = "b2a" if self.direction == "a2b" else "a2b"
        directions: tuple[str, ...] = (
            (self.direction, other) if self.args["eval_both"] else (self.direction,)
        )
        if self.args["eval_cycle"]:
            directions += tuple(f"{d}2{d[0]}" for d in directions)
        return directions

    def set_progress(self, fraction: float) -> None:
        if self.args["lr_schedule"] == "cosine":
            low = float(self.args["lr_min"])
            set_lr(self.opt_g, cosine_lr(self.lr_g, low, fraction))
            set_lr(self.opt_d, cosine_lr(self.lr_d, low, fraction))

    def _steps(self, n: int, device: torch.device) -> Tensor:
        steps = self.schedule.num_timesteps
        return torch.randint(0, steps, (n,), generator=self.rng, device=device)

    def _latent(self, n: int, device: torch.device) -> Tensor:
        return torch.randn((n, self.nz), generator=self.rng, device=device)

    def _x0(self, net: nn.Module, x_tp1: Tensor, source: Tensor, t: Tensor, z: Tensor) -> Tensor:
        """x̂_0 = G(x_{t+1} ⊕ source, t, z), its first C_target channels, float32."""
        with autocast(self.ctx.device, self.ctx.amp):
            out = net(torch.cat([x_tp1, source.to(x_tp1.dtype)], dim=1), t, z)
        return out[:, : x_tp1.shape[1]].float()

    def _judge(self, critic: nn.Module, *inputs: Tensor) -> Tensor:
        with autocast(self.ctx.device, self.ctx.amp):
            return critic(*inputs).float()

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real_a, real_b = batch.a.float(), batch.b.float()
        n, device = real_a.shape[0], real_a.device
        sched, rng, softplus = self.schedule, self.rng, F.softplus
        # Discriminators (train.py's "train discriminator with real", "train with fake" and the
        # cycle part's D).
        set_requires_grad(self.critics, True)
        t_a, t_b = self._steps(n, device), self._steps(n, device)
        xa_t, xa_tp1 = sched.q_sample_pairs(real_a, t_a, rng)
        xb_t, xb_tp1 = sched.q_sample_pairs(real_b, t_b, rng)
        lazy = self.updates % int(self.args["lazy_reg"]) == 0
        gamma = float(self.args["r1_gamma"])
        penalise = lazy and gamma > 0
        xa_t.requires_grad_(penalise)
        xb_t.requires_grad_(penalise)
        da_real = self._judge(self.d_a, xa_t, t_a, xa_tp1)
        db_real = self._judge(self.d_b, xb_t, t_b, xb_tp1)
        d_real = softplus(-da_real).mean() + softplus(-db_real).mean()
        if penalise:
            ga, gb = torch.autograd.grad(
                da_real.sum() + db_real.sum(), (xa_t, xb_t), create_graph=True
            )
            r1 = (
                gamma
                / 2
                * (
                    ga.flatten(1).norm(dim=1).pow(2).mean()
                    + gb.flatten(1).norm(dim=1).pow(2).mean()
                )
            )
        else:
            r1 = torch.zeros((), device=device)
        z_a, z_b = self._latent(n, device), self._latent(n, device)
        with torch.no_grad(), autocast(self.ctx.device, self.ctx.amp):
            fake_a, fake_b = self.f_ba(real_b).float(), self.f_ab(real_a).float()
            xa0 = self._x0(self.g_ba, xa_tp1, fake_b, t_a, z_a)
            xb0 = self._x0(self.g_ab, xb_tp1, fake_a, t_b, z_b)
        xa_pos = sched.posterior_sample(xa0, xa_tp1, t_a, randn_like(xa_tp1, rng))
        xb_pos = sched.posterior_sample(xb0, xb_tp1, t_b, randn_like(xb_tp1, rng))
        d_fake = (
            softplus(self._judge(self.d_a, xa_pos, t_a, xa_tp1)).mean()
            + softplus(self._judge(self.d_b, xb_pos, t_b, xb_tp1)).mean()
        )
        d_cycle = (
            softplus(-self._judge(self.c_a, real_a)).mean()
            + softplus(-self._judge(self.c_b, real_b)).mean()
            + softplus(self._judge(self.c_a, fake_a)).mean()
            + softplus(self._judge(self.c_b, fake_b)).mean()
        )
        self.opt_d.zero_grad(set_to_none=True)
        (d_real + r1 + d_fake + d_cycle).backward()
        self.opt_d.step()
        # Generators (train.py's "G part"), critics frozen.
        set_requires_grad(self.critics, False)
        t_a, t_b = self._steps(n, device), self._steps(n, device)
        _, xa_tp1 = sched.q_sample_pairs(real_a, t_a, rng)
        _, xb_tp1 = sched.q_sample_pairs(real_b, t_b, rng)
        z_a, z_b = self._latent(n, device), self._latent(n, device)
        with autocast(self.ctx.device, self.ctx.amp):
            fake_a = self.f_ba(real_b).float()
            back_b = self.f_ab(fake_a).float()
            fake_b = self.f_ab(real_a).float()
            back_a = self.f_ba(fake_b).float()
        xa0 = self._x0(self.g_ba, xa_tp1, fake_b, t_a, z_a)
        xb0 = self._x0(self.g_ab, xb_tp1, fake_a, t_b, z_b)
        xa_pos = sched.posterior_sample(xa0, xa_tp1, t_a, randn_like(xa_tp1, rng))
        xb_pos = sched.posterior_sample(xb0, xb_tp1, t_b, randn_like(xb_tp1, rng))
        g_adv = (
            softplus(-self._judge(self.d_a, xa_pos, t_a, xa_tp1)).mean()
            + softplus(-self._judge(self.d_b, xb_pos, t_b, xb_tp1)).mean()
        )
        g_cycle_adv = (
            softplus(-self._judge(self.c_a, fake_a)).mean()
            + softplus(-self._judge(self.c_b, fake_b)).mean()
        )
        l1 = F.l1_loss
        l1_diffusive = l1(xa0, real_a) + l1(xb0, real_b)
        cycle = l1(back_a, real_a) + l1(back_b, real_b)
        lam = float(self.args["lambda_l1_loss"])
        loss_g = lam * cycle + g_adv + g_cycle_adv + lam * l1_diffusive
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self._update_averages()
        self.updates += 1
        return loss_tensors(
            LOSS_NAMES, (d_real, d_fake, r1, d_cycle, g_adv, g_cycle_adv, l1_diffusive, cycle)
        )

    @torch.no_grad()
    def _update_averages(self) -> None:
        decay = float(self.args["ema_decay"])
        for avg_net, net in ((self.ema_ab, self.g_ab), (self.ema_ba, self.g_ba)):
            if avg_net is None:
                continue
            for avg, p in zip(avg_net.parameters(), net.parameters(), strict=True):
                # The authors' EMA starts at the first update as a copy of the updated weights.
                if self.updates == 0:
                    avg.copy_(p)
                else:
                    avg.lerp_(p, 1.0 - decay)

    def translate(self, source: Tensor, direction: str | None = None) -> Tensor:
        """The T-step reverse chain of the diffusive generator, conditioned on ``source``."""
        forward = (direction or self.direction) == "a2b"
        net = self.inference_modules()["g_ab" if forward else "g_ba"]
        target = self.channels["b" if forward else "a"]
        source = source.float()
        n, _, h, w = source.shape
        # Each image's noise from its own generator: a translation depends on its image only.
        generators = image_generators(source)

        def draw(like: Tensor) -> Tensor:
            return gaussian(tuple(like.shape), generators).to(like.device, like.dtype)

        def predict(x_tp1: Tensor, t: Tensor) -> Tensor:
            z = gaussian((n, self.nz), generators).to(x_tp1.device)
            return self._x0(net, x_tp1, source, t, z)

        x_T = draw(source.new_empty((n, target, h, w)))
        out = self.schedule.sample(predict, x_T, draw)
        return out.clamp(-1.0, 1.0).contiguous()

    def eval_mode(self) -> None:
        super().eval_mode()
        for net in self._averages().values():
            net.eval()

    def train_mode(self) -> None:
        super().train_mode()
        for net in self._averages().values():
            net.train()

    def extra_state(self) -> dict[str, Any]:
        return {
            "averages": {name: net.state_dict() for name, net in self._averages().items()},
            "rng": self.rng.get_state(),
            "updates": self.updates,
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        for name, net in self._averages().items():
            net.load_state_dict(state["averages"][name])
        self.rng.set_state(state["rng"])
        self.updates = int(state["updates"])

    def generator_parameter_count(self) -> int:
        """Learned parameters of one diffusive generator (what translation runs)."""
        return count_parameters((self.g_ab,))


def _params(nets: tuple[nn.Module, ...]) -> list[nn.Parameter]:
    return [p for net in nets for p in net.parameters()]


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="syndiff",
            summary="SynDiff (Özbey et al. 2023): unpaired translation by adversarial diffusion (NCSN++ x0-predictors, T=4) trained through a cycle-consistent ResNet/PatchGAN module.",
            version="1",
            factory="medganbench_plugins.models.syndiff:SynDiff",
            params=syndiff_params(),
        )
    ]
