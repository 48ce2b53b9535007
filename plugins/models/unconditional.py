"""Unconditional GANs (noise → target-domain image): the ``dcgan``, ``wgan-gp`` and ``sagan`` plugins.

They learn the distribution of the target domain (``batch.b``, the "real set") and are
evaluated by sampling (:attr:`Task.SAMPLE`), e.g. with FID/KID against real images. All three
share one :class:`UnconditionalGAN`: a DCGAN-shaped generator fed z ∈ U[-1, 1]^z_dim and a
strided-convolution discriminator (see :mod:`medganbench_plugins.nn.sampling`); they differ in
normalisation, loss, critic steps and optimiser settings:

- ``dcgan`` (Radford, Metz & Chintala, ICLR 2016, Sec. 3–4): batch norm in both networks,
  LeakyReLU 0.2 in the discriminator, non-saturating BCE loss, Adam lr 2e-4, β = (0.5, 0.999);
- ``wgan-gp`` (Gulrajani et al., NeurIPS 2017, Alg. 1): Wasserstein loss with gradient penalty
  λ = 10, a critic with layer norm instead of batch norm (Sec. 4: batch norm invalidates the
  per-sample penalty), n_critic = 5 critic updates per generator update, Adam lr 1e-4,
  β = (0, 0.9), batch size 64;
- ``sagan`` (Zhang et al., ICML 2019, Sec. 3–5): self-attention in both networks, spectral norm
  in both, hinge loss (D: E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]; G: −E[D(G(z))]),
  two-time-scale learning rates 1e-4 (G) / 4e-4 (D), Adam β = (0, 0.9). The attention sits at
  image_size/4 (32×32 maps at 128 px, where SAGAN's ablation found it best); unconditional
  here, so the generator's batch norm is plain rather than class-conditional.

Their volume counterparts ``dcgan3d`` and ``wgan-gp3d``
(:mod:`~medganbench_plugins.models.unconditional3d`) are this :class:`UnconditionalGAN` with
``spatial_dims = 3``: the same training on 3-D networks.

Paper 002 (Sec. IV, implementation notes) trains its unconditional baselines on 64 px slices with
z ∈ U[-1, 1]^100; ``z_dim`` defaults to 100 and the noise is uniform for that reason.

One :meth:`UnconditionalGAN.train_step` consumes one batch of ``batch_size`` real images. With
n_critic > 1 (WGAN-GP) the batch is split into n_critic chunks, one per critic update, when it
holds at least n_critic images (so every real image is seen once, as in Alg. 1 where each critic
step draws fresh data); a smaller batch is reused whole for every critic update. The generator
update then uses ``batch_size`` fresh noise vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.limits import MAX_WIDTH
from medganbench_plugins.nn.gan_losses import adversarial_loss, gradient_penalty
from medganbench_plugins.nn.sampling import (
    ConvDiscriminator,
    DCGANGenerator,
    sample_noise,
)
from medganbench_plugins.nn.training import (
    autocast,
    loss_tensors,
    set_requires_grad,
    to_device,
)
from medganbench_plugins.nn.training import make_optimizer as optimizer_by_name

#: Largest number of images :meth:`UnconditionalGAN.sample` pushes through the generator at once;
#: the noise is drawn for all images first, so the chunking never changes the result.
SAMPLE_CHUNK = 256


def _neg_mean(fake: Tensor) -> Tensor:
    # SAGAN's (and WGAN's) generator loss −E[D(G(z))]; the shared "hinge" g_loss is HLSNC-GAN's
    # bounded variant, so SAGAN pairs the hinge discriminator loss with this one instead.
    return -fake.mean()


class UnconditionalGAN(AdversarialModel):
    """Generator G(z) and discriminator D(x) trained against the target domain's images.

    Subclasses fix the architecture and loss through class attributes; the numbers (widths,
    learning rates, betas, batch size, critic steps) are run arguments.

    Class attributes:
        d_norm: discriminator normalisation (``"batch"``, ``"layer"`` or ``"none"``).
        spectral: spectral norm on every convolution of both networks.
        attention: insert self-attention at ``attention_res`` (0: image_size/4) in both networks.
        loss: adversarial loss name of :func:`adversarial_loss` for the discriminator.
        sagan_generator_loss: use −E[D(G(z))] for the generator instead of the loss's own.
    """

    task = Task.SAMPLE
    d_norm: ClassVar[str] = "batch"
    spectral: ClassVar[bool] = False
    attention: ClassVar[bool] = False
    loss: ClassVar[str] = "bce"
    sagan_generator_loss: ClassVar[bool] = False

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        self.z_dim = int(self.args["z_dim"])
        self.attention_res: int | None = None
        if self.attention:
            self.attention_res = int(
                self.args.get("attention_res", 0)
            ) or self.default_attention_res(ctx.image_size)
        self.generator = self.build_generator()
        self.critic = self.build_critic()
        for net in (self.generator, self.critic):
            net.to(device=ctx.device, memory_format=self.memory_format)
        self.adv = adversarial_loss(self.loss)
        self.g_loss = _neg_mean if self.sagan_generator_loss else self.adv.g_loss
        self.n_critic = int(self.args.get("n_critic", 1))
        self.opt_g = self.make_optimizer(self.generator, float(self.args["lr_g"]))
        self.opt_d = self.make_optimizer(self.critic, float(self.args["lr_d"]))
        # Own RNGs for training noise and penalty interpolates, saved in state_dict, so a
        # resumed run draws exactly what the uninterrupted one would have.
        self.noise_rng = torch.Generator().manual_seed(ctx.seed + 1)
        self.gp_rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 2)

    @property
    def memory_format(self) -> torch.memory_format:
        """Channels-last for the model's dimensions when the run asks for it, else as given."""
        if not self.ctx.channels_last:
            return torch.preserve_format
        return torch.channels_last_3d if self.spatial_dims == 3 else torch.channels_last

    def default_attention_res(self, image_size: int) -> int:
        """Where self-attention sits when ``attention_res`` is 0: image_size/4 (SAGAN's choice)."""
        return image_size // 4

    @property
    def latent_dim(self) -> int:
        """Width of the generator's input; InfoGAN appends its codes to z."""
        return self.z_dim

    def build_generator(self) -> nn.Module:
        """G: a DCGAN generator of ``latent_dim`` inputs (subclasses may build another)."""
        return DCGANGenerator(
            self.ctx.image_size,
            self.latent_dim,
            self.ctx.dataset.b.channels,
            int(self.args["ngf"]),
            spectral=self.spectral,
            attention_res=self.attention_res,
            dims=self.spatial_dims,
        )

    def build_critic(self) -> nn.Module:
        """D: a strided-convolution discriminator (subclasses may build another)."""
        return ConvDiscriminator(
            self.ctx.image_size,
            self.ctx.dataset.b.channels,
            int(self.args["ndf"]),
            norm=self.d_norm,
            spectral=self.spectral,
            attention_res=self.attention_res,
            dims=self.spatial_dims,
        )

    def make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        """Adam with the run's (β1, β2), fused where torch has it; WGAN's RMSprop overrides this."""
        betas = (float(self.args["beta1"]), float(self.args["beta2"]))
        return optimizer_by_name("adam", net.parameters(), lr, *betas)

    def after_critic_step(self) -> None:
        """Called after every critic update; WGAN clips the critic's weights here."""

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """Generator, discriminator."""
        return (self.generator, self.critic)

    def inference_modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def latent(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` generator inputs drawn on the CPU from ``generator``: z ∈ U[-1, 1]^z_dim."""
        return sample_noise(n, self.z_dim, generator, torch.device("cpu"))

    def _noise(self, n: int) -> Tensor:
        return to_device(self.latent(n, self.noise_rng), self.ctx.device)

    def _critic_chunks(self, real: Tensor) -> list[Tensor]:
        """The real images of each critic update (see the module docstring)."""
        if self.n_critic == 1:
            return [real]
        if real.shape[0] >= self.n_critic:
            return list(torch.chunk(real, self.n_critic, 0))
        return [real] * self.n_critic

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real = batch.b
        if self.ctx.channels_last:
            real = real.contiguous(memory_format=self.memory_format)
        d_losses: list[Tensor] = []
        penalties: list[Tensor] = []
        set_requires_grad((self.critic,), True)
        for chunk in self._critic_chunks(real):
            with torch.no_grad(), autocast(self.ctx.device, self.ctx.amp):
                fake = self.generator(self._noise(chunk.shape[0])).to(chunk.dtype)
            with autocast(self.ctx.device, self.ctx.amp):
                # Real and fake go through D separately, as in DCGAN, so batch norm never
                # mixes their statistics.
                loss_d = self.adv.d_loss(self.critic(chunk).float(), self.critic(fake).float())
                if self.adv.penalty_weight:
                    gp = gradient_penalty(self.critic, chunk, fake, self.gp_rng)
                    penalties.append(gp.detach())
                    loss_d = loss_d + self.adv.penalty_weight * gp
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            self.after_critic_step()
            d_losses.append(loss_d.detach())
        # Generator: fool the (frozen) discriminator with fresh noise.
        set_requires_grad((self.critic,), False)
        with autocast(self.ctx.device, self.ctx.amp):
            loss_g = self.g_loss(self.critic(self.generator(self._noise(real.shape[0]))).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad((self.critic,), True)
        values = {"g": loss_g, "d": torch.stack(d_losses).float().mean()}
        if penalties:
            values["gp"] = torch.stack(penalties).float().mean()
        return loss_tensors(list(values), list(values.values()))

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Draw ``n`` images, (n, C, S, S) float32 in [-1, 1] ((n, C, S, S, S) for a 3-D model).

        The latent (:meth:`latent`) is drawn on the CPU from ``generator`` (so the same generator state gives the same
        images) and G runs in eval mode (batch-norm running statistics, no spectral-norm power
        iteration) under no_grad; G's previous mode is restored afterwards.
        """
        z = self.latent(n, generator)
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.no_grad(), autocast(self.ctx.device, self.ctx.amp):
                parts = [
                    self.generator(c.to(self.ctx.device)).float() for c in z.split(SAMPLE_CHUNK)
                ]
        finally:
            self.generator.train(was_training)
        return torch.cat(parts, 0).clamp(-1.0, 1.0).contiguous()

    def extra_state(self) -> dict[str, Any]:
        return {"noise_rng": self.noise_rng.get_state(), "gp_rng": self.gp_rng.get_state()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.noise_rng.set_state(state["noise_rng"])
        self.gp_rng.set_state(state["gp_rng"])


class DCGAN(UnconditionalGAN):
    """DCGAN (Radford et al. 2016): batch norm in G and D, non-saturating BCE."""

    d_norm = "batch"
    loss = "bce"


class WGANGP(UnconditionalGAN):
    """WGAN-GP (Gulrajani et al. 2017): layer-norm critic, Wasserstein loss + 10·gradient penalty."""

    d_norm = "layer"
    loss = "wgan-gp"


class SAGAN(UnconditionalGAN):
    """SAGAN (Zhang et al. 2019): self-attention and spectral norm in G and D, hinge loss, TTUR."""

    d_norm = "none"
    spectral = True
    attention = True
    loss = "hinge"
    sagan_generator_loss = True


def unconditional_params(
    *,
    batch_size: int,
    lr_g: float,
    lr_d: float,
    beta1: float = 0.0,
    beta2: float = 0.0,
    betas: bool = True,
    width: int = 64,
    extra: tuple[Param, ...] = (),
) -> tuple[Param, ...]:
    """The arguments every unconditional GAN plugin declares, with that plugin's defaults.

    ``betas=False`` leaves out Adam's β1/β2, for a model with another optimiser (``wgan``);
    ``width`` is the default of ``ngf`` and ``ndf``.
    """
    adam = (
        (
            Param("beta1", beta1, "Adam's β1", minimum=0.0),
            Param("beta2", beta2, "Adam's β2", minimum=0.0),
        )
        if betas
        else ()
    )
    return (
        Param("z_dim", 100, "latent dimension; z ~ U[-1, 1]^z_dim", minimum=1, maximum=MAX_WIDTH),
        Param(
            "ngf",
            width,
            "generator filters at the last feature map (×2 per coarser level, at most ×8)",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param(
            "ndf",
            width,
            "discriminator filters in the first layer (×2 per level, at most ×8)",
            minimum=1,
            maximum=MAX_WIDTH,
        ),
        Param("batch_size", batch_size, "real images per step", minimum=1),
        Param("lr_g", lr_g, "generator learning rate", minimum=0.0),
        Param("lr_d", lr_d, "discriminator learning rate", minimum=0.0),
        *adam,
        *extra,
    )


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="dcgan",
            summary="DCGAN (Radford et al. 2016): unconditional, batch norm, BCE; samples the target domain.",
            version="2",
            factory="medganbench_plugins.models.unconditional:DCGAN",
            params=unconditional_params(
                batch_size=32, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999
            ),
        ),
        ModelSpec(
            name="wgan-gp",
            summary="WGAN-GP (Gulrajani et al. 2017): unconditional, layer-norm critic, gradient penalty 10, 5 critic steps.",
            version="2",
            factory="medganbench_plugins.models.unconditional:WGANGP",
            params=unconditional_params(
                batch_size=64,
                lr_g=1e-4,
                lr_d=1e-4,
                beta1=0.0,
                beta2=0.9,
                extra=(
                    Param(
                        "n_critic",
                        5,
                        "critic updates per generator update (the step's batch is split among them)",
                        minimum=1,
                    ),
                ),
            ),
        ),
        ModelSpec(
            name="sagan",
            summary="SAGAN (Zhang et al. 2019): unconditional, self-attention + spectral norm in G and D, hinge loss, TTUR.",
            version="2",
            factory="medganbench_plugins.models.unconditional:SAGAN",
            params=unconditional_params(
                batch_size=32,
                lr_g=1e-4,
                lr_d=4e-4,
                beta1=0.0,
                beta2=0.9,
                extra=(
                    Param(
                        "attention_res",
                        0,
                        "feature resolution of the self-attention blocks; 0 = image_size/4",
                        minimum=0,
                    ),
                ),
            ),
        ),
    ]
