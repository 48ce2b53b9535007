"""The ``pix2pix`` model: conditional GAN for paired translation (Isola et al., CVPR 2017).

Defaults follow the paper (Sec. 3 and 6) and its reference setup:

- generator: U-Net with skip connections between mirrored levels, 4×4 stride-2 convolutions,
  batch norm, filters doubling from 64 to 512, dropout 0.5 in three inner decoder levels (the
  paper's noise source); 8 levels at 256 px (U-Net-256), fewer at smaller sizes so the
  bottleneck still reaches 1×1 (see :func:`~medganbench_plugins.nn.generators.unet_depth`);
- discriminator: 70×70 PatchGAN on the channel-wise concatenation of (source, image);
- losses: the GAN loss with binary cross-entropy (non-saturating for the generator) plus
  λ = 100 times the L1 distance to the target; the discriminator's loss is halved;
- Adam (lr 2e-4, β1 = 0.5), batch size 1, constant for the first half of the budget and then
  decayed linearly to zero, as in the reference code's n_epochs + n_epochs_decay.

Inference (``test_mode``): the paper runs the generator "in exactly the same manner as during
the training phase" — dropout on and batch norm with the statistics of the test batch, which at
batch size 1 is instance normalisation (Sec. 3.3). ``test_mode=paper`` (the default) does that,
one image at a time so a score never depends on the evaluation batch size; ``test_mode=eval``
uses running statistics and no dropout instead.

pix2pix needs paired training data: on an unpaired dataset the runner refuses it before
training starts. ``pix2pix3d`` (:mod:`medganbench_plugins.models.pix2pix3d`) is this model on
volumes: the same class with 3-D networks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.cycle import LR_SCHEDULES, PER_IMAGE_NORMS
from medganbench_plugins.models.limits import MAX_WIDTH
from medganbench_plugins.nn.discriminators import PatchDiscriminator
from medganbench_plugins.nn.gan_losses import (
    LOSS_KINDS,
    adversarial_loss,
    gradient_penalty,
)
from medganbench_plugins.nn.generators import UnetGenerator, unet_depth
from medganbench_plugins.nn.norms import NORM_KINDS
from medganbench_plugins.nn.training import (
    OPTIMIZER_KINDS,
    autocast,
    loss_tensors,
    make_optimizer,
    set_requires_grad,
)


class Pix2Pix(AdversarialModel):
    """U-Net generator and PatchGAN discriminator trained on aligned pairs.

    The networks' dimensions are the class's :attr:`spatial_dims` (2 here; ``pix2pix3d``'s
    subclass sets 3); everything else is the same code for images and volumes.
    """

    task = Task.TRANSLATE
    needs_paired_training = True

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        src, tgt = ctx.dataset.a, ctx.dataset.b
        if self.direction == "b2a":
            src, tgt = tgt, src
        norm, dims = str(self.args["norm"]), self.spatial_dims
        self.generator = UnetGenerator(
            src.channels,
            tgt.channels,
            unet_depth(spatial_size(ctx, dims)),
            int(self.args["ngf"]),
            norm,
            dropout=bool(self.args["dropout"]),
            dims=dims,
        )
        self.critic = PatchDiscriminator(
            src.channels + tgt.channels, int(self.args["ndf"]), 3, norm, dims=dims
        )
        # Channels-last of a 5-D tensor is torch's channels_last_3d.
        last = torch.channels_last if dims == 2 else torch.channels_last_3d
        self.memory_format = last if ctx.channels_last else torch.preserve_format
        for net in self.nets:
            net.to(device=ctx.device, memory_format=self.memory_format)
        self.adv = adversarial_loss(str(self.args["loss"]))
        self.lambda_l1 = float(self.args["lambda_l1"])
        kind, lr, beta1 = (
            str(self.args["optimizer"]),
            float(self.args["lr"]),
            float(self.args["beta1"]),
        )
        self.base_lr = lr
        self.opt_g = make_optimizer(kind, self.generator.parameters(), lr, beta1)
        self.opt_d = make_optimizer(kind, self.critic.parameters(), lr, beta1)
        self.gp_rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 2)
        self._paper_test_mode = False
        #: Judge real and generated pairs in one discriminator pass; only a norm that treats
        #: each image on its own allows it (not the default batch norm).
        self.batched_passes = norm in PER_IMAGE_NORMS

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """Generator, discriminator."""
        return (self.generator, self.critic)

    def inference_modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        source, target = (batch.a, batch.b) if self.direction == "a2b" else (batch.b, batch.a)
        with autocast(self.ctx.device, self.ctx.amp):
            fake = self.generator(source)
        # Discriminator: real pairs against generated pairs.
        set_requires_grad((self.critic,), True)
        real_pair = torch.cat([source, target], 1)
        fake_pair = torch.cat([source, fake.detach().to(source.dtype)], 1)
        with autocast(self.ctx.device, self.ctx.amp):
            if self.batched_passes:
                scores = self.critic(torch.cat([real_pair, fake_pair])).float()
                real_scores, fake_scores = scores.split(real_pair.shape[0])
            else:
                real_scores = self.critic(real_pair).float()
                fake_scores = self.critic(fake_pair).float()
            loss_d = self.adv.d_loss(real_scores, fake_scores)
            if self.adv.penalty_weight:
                loss_d = loss_d + self.adv.penalty_weight * gradient_penalty(
                    self.critic, real_pair, fake_pair, self.gp_rng
                )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # Generator: fool the discriminator and stay close to the target in L1.
        set_requires_grad((self.critic,), False)
        with autocast(self.ctx.device, self.ctx.amp):
            adv = self.adv.g_loss(
                self.critic(torch.cat([source, fake.to(source.dtype)], 1)).float()
            )
            l1 = nn.functional.l1_loss(fake.float(), target)
            loss_g = adv + self.lambda_l1 * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return loss_tensors(("g_adv", "l1", "d"), (adv, l1, loss_d))

    def translate(self, source: Tensor, direction: str | None = None) -> Tensor:
        if self.ctx.channels_last:
            source = source.contiguous(memory_format=self.memory_format)
        if not self._paper_test_mode:
            with autocast(self.ctx.device, self.ctx.amp):
                return self.generator(source).float().contiguous()
        # One image at a time, so "batch" statistics are that image's own (Sec. 3.3). The
        # test-time dropout of every image draws from an RNG reseeded with the run's seed, so
        # a translation depends only on the weights and that image, not on its batch or on
        # what was evaluated before it.
        devices = [self.ctx.device] if self.ctx.device.type == "cuda" else []
        outputs = []
        with torch.random.fork_rng(devices=devices), autocast(self.ctx.device, self.ctx.amp):
            for image in source:
                torch.manual_seed(self.ctx.seed)
                outputs.append(self.generator(image[None]).float())
        return torch.cat(outputs, 0).contiguous()

    def eval_mode(self) -> None:
        self.critic.eval()
        self._paper_test_mode = self.args["test_mode"] == "paper"
        # In paper mode the generator stays in training mode (batch norm on the test image,
        # dropout on). Batch norm in training mode updates its running statistics even under
        # torch.no_grad, so they are saved here and restored by train_mode().
        if self._paper_test_mode:
            self._saved_stats = _norm_buffers(self.generator)
            self.generator.train()
        else:
            self.generator.eval()

    def train_mode(self) -> None:
        if self._paper_test_mode:
            _restore_norm_buffers(self.generator, self._saved_stats)
        self._paper_test_mode = False
        for net in self.nets:
            net.train()

    def extra_state(self) -> dict[str, Any]:
        return {"gp_rng": self.gp_rng.get_state()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.gp_rng.set_state(state["gp_rng"])


def spatial_size(ctx: ModelContext, dims: int) -> int | tuple[int, int, int]:
    """What the U-Net's depth follows: the image size, or a volume's (D, H, W) voxels.

    A volume dataset declares its items' size (:attr:`DatasetInfo.volume`); a context without
    that geometry (a model built by hand) means a cube of ``image_size`` voxels.
    """
    if dims == 2:
        return ctx.image_size
    volume = ctx.dataset.volume
    return volume.size if volume is not None else (ctx.image_size,) * 3


def _norm_buffers(net: nn.Module) -> dict[str, Tensor]:
    return {name: buf.clone() for name, buf in net.named_buffers()}


def _restore_norm_buffers(net: nn.Module, saved: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for name, buf in net.named_buffers():
            buf.copy_(saved[name])


def pix2pix_params(*, ngf: int, ndf: int, norms: tuple[str, ...]) -> tuple[Param, ...]:
    """The arguments of ``pix2pix`` and ``pix2pix3d``: the same knobs, their own widths and norms.

    Args:
        ngf: default generator filters in the outermost level.
        ndf: default discriminator filters in the first layer.
        norms: the normalisation kinds the networks can build (default ``batch``).
    """
    return (
        Param("loss", "bce", "adversarial loss", choices=LOSS_KINDS),
        Param(
            "norm",
            "batch",
            "normalisation in generator and discriminator",
            choices=norms,
        ),
        Param("optimizer", "adam", "optimiser", choices=OPTIMIZER_KINDS),
        Param("lr", 2e-4, "learning rate", minimum=0.0),
        Param("beta1", 0.5, "Adam's β1", minimum=0.0),
        Param(
            "lr_schedule",
            "linear-decay",
            "constant, or linear decay to 0 over the second half of the budget",
            choices=LR_SCHEDULES,
        ),
        Param("lambda_l1", 100.0, "weight of the L1 loss to the target", minimum=0.0),
        Param(
            "ngf",
            ngf,
            "generator filters in the outermost level",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "ndf",
            ndf,
            "discriminator filters in the first layer",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param("dropout", True, "dropout 0.5 in the inner decoder levels"),
        Param(
            "test_mode",
            "paper",
            "paper: per-image batch norm and dropout at test time; eval: running statistics",
            choices=("paper", "eval"),
        ),
        Param("batch_size", 1, "pairs per step", minimum=1),
        Param("direction", "a2b", "translate A→B or B→A", choices=("a2b", "b2a")),
    )


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="pix2pix",
            summary="pix2pix (Isola et al. 2017): U-Net generator, PatchGAN on pairs, GAN + 100·L1. Paired data only.",
            version="3",
            factory="medganbench_plugins.models.pix2pix:Pix2Pix",
            params=pix2pix_params(ngf=64, ndf=64, norms=NORM_KINDS),
        )
    ]
