"""The cycle-consistent translation model shared by the ``cyclegan`` and ``hlsnc`` plugins.

Two generators (G: A→B, F: B→A) and two PatchGAN discriminators (D_B judges B images, D_A
judges A images) train on unpaired batches. One step is CycleGAN's (Zhu et al. 2017, Sec. 3–4):

1. generator update: adversarial loss on D_B(G(a)) and D_A(F(b)), cycle loss
   λ_cycle·(‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁) and identity loss
   λ_identity·(‖G(b) − b‖₁ + ‖F(a) − a‖₁), with both discriminators frozen;
2. discriminator update on real images and fakes drawn through a history pool, plus a gradient
   penalty when the loss or ``gp_weight`` asks for one.

Where the norm treats every image on its own (``instance``, ``layer``; not ``batch`` or
``switchable``, whose batch statistics would mix the images), the step makes fewer, larger
passes with the same losses: each generator runs once on its translation and identity inputs
concatenated, and each discriminator once on its real and pooled fake images concatenated
(:attr:`CycleModel.batched_passes`).

The plugins differ only in their declared defaults (architecture, loss, norm, optimiser and
schedule); every choice is an argument, so any row of HLSNC-GAN's ablation (Table 5) is one run
spec of either plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.errors import UsageError
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.limits import MAX_DEPTH, MAX_WIDTH
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.gan_losses import (
    LOSS_KINDS,
    adversarial_loss,
    gradient_penalty,
)
from medganbench_plugins.nn.generators import ResnetGenerator
from medganbench_plugins.nn.image_pool import ImagePool
from medganbench_plugins.nn.norms import NORM_KINDS
from medganbench_plugins.nn.training import (
    OPTIMIZER_KINDS,
    autocast,
    count_parameters,
    loss_tensors,
    make_optimizer,
    set_requires_grad,
)

LR_SCHEDULES: tuple[str, ...] = ("linear-decay", "constant")

#: Norms that normalise each image by its own statistics only, so a network's output for one
#: image does not depend on the other images of its batch.
PER_IMAGE_NORMS = frozenset({"instance", "layer"})


def cycle_params(
    *,
    loss: str,
    norm: str,
    optimizer: str,
    n_blocks: int,
    stem_kernel: int,
    gp_weight: float,
    lr_schedule: str,
    norm_eps: float,
) -> tuple[Param, ...]:
    """The declared arguments of a cycle model, with the given plugin defaults."""
    return (
        Param("loss", loss, "adversarial loss", choices=LOSS_KINDS),
        Param("norm", norm, "normalisation in generators and discriminators", choices=NORM_KINDS),
        Param(
            "optimizer",
            optimizer,
            "optimiser of generators and discriminators",
            choices=OPTIMIZER_KINDS,
        ),
        Param("lr", 2e-4, "learning rate", minimum=0.0),
        Param("beta1", 0.5, "Adam's β1 (ignored by rmsprop and sgd)", minimum=0.0),
        Param(
            "lr_schedule",
            lr_schedule,
            "constant, or linear decay to 0 over the second half of the budget",
            choices=LR_SCHEDULES,
        ),
        Param("lambda_cycle", 10.0, "weight of the cycle-consistency L1 loss", minimum=0.0),
        Param(
            "lambda_identity",
            5.0,
            "weight of the identity L1 loss (0.5·λ_cycle in CycleGAN)",
            minimum=0.0,
        ),
        Param(
            "gp_weight",
            gp_weight,
            "gradient-penalty weight (loss=wgan-gp always uses 10)",
            minimum=0.0,
        ),
        Param("ngf", 64, "generator filters in the first layer", minimum=1, maximum=MAX_WIDTH),
        Param("ndf", 64, "discriminator filters in the first layer", minimum=1, maximum=MAX_WIDTH),
        Param(
            "n_blocks",
            n_blocks,
            "residual blocks; 0 = 9 at >= 256 px, else 6",
            minimum=0,
            maximum=MAX_DEPTH,
        ),
        Param(
            "stem_kernel",
            stem_kernel,
            "kernel of the generators' first and last convolution",
            choices=(5, 7),
        ),
        Param("norm_eps", norm_eps, "epsilon of the normalisation layers", minimum=0.0),
        Param(
            "pool_size",
            50,
            "history pool of generated images shown to the discriminators",
            minimum=0,
        ),
        Param("batch_size", 1, "images per domain per step", minimum=1),
        Param(
            "direction",
            "a2b",
            "primary direction (the sample grid and first rows)",
            choices=("a2b", "b2a"),
        ),
        Param("eval_both", True, "also evaluate the reverse direction, as separate rows"),
        Param(
            "eval_cycle", True, "also score the round trips A→B→A and B→A→B against their inputs"
        ),
    )


class CycleModel(AdversarialModel):
    """A CycleGAN-structured model configured entirely by its arguments (see :func:`cycle_params`)."""

    task = Task.TRANSLATE
    unpaired_training = True
    cycle_consistent = True
    # One image per GPU, as the CycleGAN reference trains under torchrun (its batch_size is
    # per process); N devices take N images per step.
    batch_scaling = "per-device"

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        a, b = ctx.dataset.a.channels, ctx.dataset.b.channels
        ResnetGenerator.check_size(ctx.image_size)
        if ctx.image_size < 32:
            raise UsageError(
                f"{type(self).__name__} needs images of at least 32 px, got {ctx.image_size}."
            )
        self.lambda_cycle = float(self.args["lambda_cycle"])
        self.lambda_identity = float(self.args["lambda_identity"])
        if self.lambda_identity > 0 and a != b:
            raise UsageError(
                f"The identity loss needs equal channel counts in A and B (got {a} and {b}).",
                hint="Pass --model-arg lambda_identity=0.",
            )
        n_blocks = int(self.args["n_blocks"]) or (9 if ctx.image_size >= 256 else 6)
        norm, eps = str(self.args["norm"]), float(self.args["norm_eps"])

        def generator(cin: int, cout: int) -> ResnetGenerator:
            return ResnetGenerator(
                cin, cout, int(self.args["ngf"]), n_blocks, norm, int(self.args["stem_kernel"]), eps
            )

        def critic(cin: int) -> PatchDiscriminator:
            return PatchDiscriminator(cin, int(self.args["ndf"]), 3, norm, eps)

        self.g_ab, self.g_ba = generator(a, b), generator(b, a)
        self.d_a, self.d_b = critic(a), critic(b)
        fmt = torch.channels_last if ctx.channels_last else torch.preserve_format
        for net in self.nets:
            net.to(device=ctx.device, memory_format=fmt)
        self.adv = adversarial_loss(str(self.args["loss"]))
        self.gp_weight = self.adv.penalty_weight or float(self.args["gp_weight"])
        kind, lr, beta1 = (
            str(self.args["optimizer"]),
            float(self.args["lr"]),
            float(self.args["beta1"]),
        )
        self.base_lr = lr
        self.opt_g = make_optimizer(
            kind, [*self.g_ab.parameters(), *self.g_ba.parameters()], lr, beta1
        )
        self.opt_d = make_optimizer(
            kind, [*self.d_a.parameters(), *self.d_b.parameters()], lr, beta1
        )
        size = int(self.args["pool_size"])
        self.pool_a, self.pool_b = ImagePool(size, ctx.seed), ImagePool(size, ctx.seed + 1)
        # On the model's device, so the penalty's interpolation weights need no host copy.
        self.gp_rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 2)
        #: One pass per network on concatenated inputs (see the module docstring). Only a norm
        #: in PER_IMAGE_NORMS allows it; tests and benchmarks switch it off to compare.
        self.batched_passes = norm in PER_IMAGE_NORMS

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """G (A→B), F (B→A), D_A, D_B."""
        return (self.g_ab, self.g_ba, self.d_a, self.d_b)

    def inference_modules(self) -> dict[str, nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba}

    @property
    def eval_directions(self) -> tuple[str, ...]:
        other = "b2a" if self.direction == "a2b" else "a2b"
        directions = (self.direction, other) if self.args["eval_both"] else (self.direction,)
        if self.args["eval_cycle"]:
            # The round trip starting in each evaluated direction's source domain.
            directions += tuple(f"{d}2{d[0]}" for d in directions)
        return directions

    def _critic_loss(
        self, critic: nn.Module, real: Tensor, fake: Tensor, gen: torch.Generator
    ) -> Tensor:
        with autocast(self.ctx.device, self.ctx.amp):
            if self.batched_passes:
                scores = critic(torch.cat([real, fake.to(real.dtype)])).float()
                real_scores, fake_scores = scores.split(real.shape[0])
            else:
                real_scores, fake_scores = critic(real).float(), critic(fake).float()
            loss = self.adv.d_loss(real_scores, fake_scores)
        if self.gp_weight > 0:
            with autocast(self.ctx.device, self.ctx.amp):
                loss = loss + self.gp_weight * gradient_penalty(critic, real, fake, gen)
        return loss

    def _translate_and_keep(
        self, net: nn.Module, source: Tensor, target: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """``net(source)`` and, in one pass where allowed, ``net(target)`` for the identity loss
        (``None`` when it is computed later, in the reference's order, or not at all)."""
        if self.lambda_identity <= 0 or not self.batched_passes:
            return net(source), None
        fake, same = net(torch.cat([source, target])).split(source.shape[0])
        return fake, same

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real_a, real_b = batch.a, batch.b
        l1 = nn.functional.l1_loss
        # Generators: fool both critics, close both cycles, leave in-domain images unchanged.
        set_requires_grad((self.d_a, self.d_b), False)
        with autocast(self.ctx.device, self.ctx.amp):
            fake_b, same_b = self._translate_and_keep(self.g_ab, real_a, real_b)
            fake_a, same_a = self._translate_and_keep(self.g_ba, real_b, real_a)
            adv = self.adv.g_loss(self.d_b(fake_b).float()) + self.adv.g_loss(
                self.d_a(fake_a).float()
            )
            cycle = l1(self.g_ba(fake_b).float(), real_a) + l1(self.g_ab(fake_a).float(), real_b)
            loss_g = adv + self.lambda_cycle * cycle
            if self.lambda_identity > 0:
                # Unbatched, the identity passes come last, as in the reference: with batch or
                # switchable norm the order of passes sets the running statistics.
                same_b = self.g_ab(real_b) if same_b is None else same_b
                same_a = self.g_ba(real_a) if same_a is None else same_a
                identity = l1(same_b.float(), real_b) + l1(same_a.float(), real_a)
                loss_g = loss_g + self.lambda_identity * identity
            else:
                identity = torch.zeros((), device=real_a.device)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # Critics: real images against fakes from the history pools.
        set_requires_grad((self.d_a, self.d_b), True)
        pooled_b = self.pool_b.query(fake_b.detach())
        pooled_a = self.pool_a.query(fake_a.detach())
        loss_d_b = self._critic_loss(self.d_b, real_b, pooled_b, self.gp_rng)
        loss_d_a = self._critic_loss(self.d_a, real_a, pooled_a, self.gp_rng)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.opt_d.step()
        return loss_tensors(
            ("g_adv", "cycle", "identity", "d_a", "d_b"), (adv, cycle, identity, loss_d_a, loss_d_b)
        )

    def translate(self, source: Tensor, direction: str | None = None) -> Tensor:
        net = self.g_ab if (direction or self.direction) == "a2b" else self.g_ba
        if self.ctx.channels_last:
            source = source.contiguous(memory_format=torch.channels_last)
        with autocast(self.ctx.device, self.ctx.amp):
            return net(source).float().contiguous()

    def extra_state(self) -> dict[str, Any]:
        return {
            "pool_a": self.pool_a.state_dict(),
            "pool_b": self.pool_b.state_dict(),
            "gp_rng": self.gp_rng.get_state(),
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.pool_a.load_state_dict(state["pool_a"], self.ctx.device)
        self.pool_b.load_state_dict(state["pool_b"], self.ctx.device)
        self.gp_rng.set_state(state["gp_rng"])

    def generator_parameter_count(self) -> int:
        """Learned parameters of one generator (what translation at test time runs)."""
        return count_parameters((self.g_ab,))
