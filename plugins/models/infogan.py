"""The ``infogan`` model: InfoGAN (Chen et al., NeurIPS 2016), on DCGAN-style networks.

InfoGAN adds latent codes c to the generator's input and maximises a variational lower bound
of the mutual information I(c; G(z, c)) (Sec. 4–5, eq. 4–5): an auxiliary head Q on the
discriminator's body predicts c from an image, and λ·L_I is subtracted from both players'
objectives, so it is added as a loss to the generator's and the discriminator's (which owns Q).
As in the paper and its code:

- codes: ``n_cat`` categorical codes of ``cat_dim`` classes each (uniform, one-hot) and
  ``cont_dim`` continuous codes c ∈ U[-1, 1] (MNIST: one 10-way code and two continuous ones,
  the defaults here); z is paper 002's U[-1, 1]^100;
- L_I: cross entropy of each categorical code plus, per continuous code, the negative log
  likelihood of a Gaussian with the predicted mean and fixed unit variance, i.e.
  ½(c − μ)² (the constant log √(2π) is left out: it has no gradient); λ = 1 for both kinds
  (``lambda_cat``, ``lambda_cont``);
- Q shares every layer of D but its last; Q's head is FC 128, batch norm, LeakyReLU 0.2, FC to
  the code parameters (the paper's Q for its image data sets, Appendix C);
- non-saturating GAN loss; Adam β = (0.5, 0.999), learning rates 2e-4 for D and Q and 1e-3 for
  G (Appendix C).

The networks are the DCGAN pair of :mod:`.unconditional` (paper 002 gives InfoGAN no other
architecture); G's input is z concatenated with the codes. Paper 002's Table I lists InfoGAN at
10.1 M (G) and 0.1 M (D) parameters with the FLOPs of DCGAN; no DCGAN-style pair gives that
split, see docs/models.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext, TrainBatch
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import UsageError
from medganbench_plugins.models.limits import MAX_CODES, MAX_WIDTH
from medganbench_plugins.models.unconditional import UnconditionalGAN, unconditional_params
from medganbench_plugins.nn.sampling import ConvDiscriminator, dcgan_init, sample_noise
from medganbench_plugins.nn.training import autocast, loss_tensors, set_requires_grad

#: Width of Q's hidden layer (InfoGAN Appendix C).
Q_HIDDEN = 128


class QHead(nn.Module):
    """Q(c | x) from the discriminator's last feature map: logits of each categorical code and
    the means of the continuous codes, concatenated (N, n_cat·cat_dim + cont_dim)."""

    def __init__(self, features: int, outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(features, Q_HIDDEN),
            dcgan_init(nn.BatchNorm1d(Q_HIDDEN)),
            nn.LeakyReLU(0.2, True),
            nn.Linear(Q_HIDDEN, outputs),
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


class InfoGAN(UnconditionalGAN):
    """DCGAN nets, latent codes, a Q-head on D's body and the mutual-information loss."""

    d_norm = "batch"
    loss = "bce"

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        if int(args["batch_size"]) < 2:
            raise UsageError(
                "infogan needs batch_size >= 2: Q's head batch-normalises over the batch."
            )
        self.n_cat = int(args["n_cat"])
        self.cat_dim = int(args["cat_dim"])
        self.cont_dim = int(args["cont_dim"])
        super().__init__(args, ctx)
        critic = self.critic
        assert isinstance(critic, ConvDiscriminator)
        last = critic.blocks[-1][0]
        assert isinstance(last, nn.Conv2d)
        side = 4  # the encoder ends at 4×4 for every supported size
        self.q_head = QHead(
            int(last.out_channels) * side * side, self.n_cat * self.cat_dim + self.cont_dim
        )
        self.q_head.to(ctx.device)
        # Q is part of the discriminator's side (the paper's Q shares D's body); its own layers
        # join D's optimiser.
        self.opt_d.add_param_group({"params": list(self.q_head.parameters())})
        self.lambda_cat = float(self.args["lambda_cat"])
        self.lambda_cont = float(self.args["lambda_cont"])

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """Generator, discriminator, Q-head."""
        return (self.generator, self.critic, self.q_head)

    @property
    def latent_dim(self) -> int:
        return self.z_dim + self.n_cat * self.cat_dim + self.cont_dim

    def latent(self, n: int, generator: torch.Generator) -> Tensor:
        """[z, one-hot categorical codes, continuous codes], drawn on the CPU from ``generator``."""
        z = sample_noise(n, self.z_dim, generator, torch.device("cpu"))
        cats = torch.randint(0, self.cat_dim, (n, self.n_cat), generator=generator)
        one_hot = F.one_hot(cats, self.cat_dim).float().flatten(1)
        cont = sample_noise(n, self.cont_dim, generator, torch.device("cpu"))
        return torch.cat([z, one_hot, cont], dim=1)

    def info_loss(self, q: Tensor, latent: Tensor) -> Tensor:
        """λ_cat·Σ CE(categorical) + λ_cont·Σ ½(c − μ)², averaged over the batch (L_I up to a constant)."""
        codes = latent[:, self.z_dim :]
        cat_logits = q[:, : self.n_cat * self.cat_dim].float()
        cat_codes = codes[:, : self.n_cat * self.cat_dim]
        loss = q.new_zeros((), dtype=torch.float32)
        for k in range(self.n_cat):
            part = slice(k * self.cat_dim, (k + 1) * self.cat_dim)
            target = cat_codes[:, part].argmax(1)
            loss = loss + self.lambda_cat * F.cross_entropy(cat_logits[:, part], target)
        if self.cont_dim:
            mean = q[:, self.n_cat * self.cat_dim :].float()
            cont = codes[:, self.n_cat * self.cat_dim :]
            loss = loss + self.lambda_cont * 0.5 * (cont - mean).square().sum(1).mean()
        return loss

    def _score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """D's logits and Q's output from one pass through D's body."""
        critic = self.critic
        assert isinstance(critic, ConvDiscriminator)
        features = critic.encode(images)[-1]
        return critic.to_logit(features).flatten(), self.q_head(features)

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real = batch.b
        if self.ctx.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        n = real.shape[0]
        latent = self._noise(n)
        # ---- D and Q: real vs fake, and recover the fakes' codes ----
        set_requires_grad((self.critic, self.q_head), True)
        with autocast(self.ctx.device, self.ctx.amp):
            with torch.no_grad():
                fake = self.generator(latent).to(real.dtype)
            real_logit = self.critic(real).float()
            fake_logit, q = self._score(fake)
            info_d = self.info_loss(q, latent)
            loss_d = self.adv.d_loss(real_logit, fake_logit.float()) + info_d
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # ---- G: fool D and keep the codes recoverable (Q is frozen with D) ----
        set_requires_grad((self.critic, self.q_head), False)
        latent = self._noise(n)
        with autocast(self.ctx.device, self.ctx.amp):
            logit, q = self._score(self.generator(latent))
            info_g = self.info_loss(q, latent)
            loss_g = self.adv.g_loss(logit.float()) + info_g
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad((self.critic, self.q_head), True)
        return loss_tensors(("g", "d", "info_g", "info_d"), (loss_g, loss_d, info_g, info_d))


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="infogan",
            summary="InfoGAN (Chen et al. 2016): unconditional DCGAN nets + categorical/continuous codes, Q-head, mutual-information loss.",
            version="2",
            factory="medganbench_plugins.models.infogan:InfoGAN",
            params=unconditional_params(
                batch_size=32,
                lr_g=1e-3,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                extra=(
                    Param("n_cat", 1, "categorical latent codes", minimum=0, maximum=MAX_CODES),
                    Param(
                        "cat_dim",
                        10,
                        "classes of each categorical code",
                        minimum=1,
                        maximum=MAX_WIDTH,
                    ),
                    Param(
                        "cont_dim",
                        2,
                        "continuous latent codes, each U[-1, 1]",
                        minimum=0,
                        maximum=MAX_WIDTH,
                    ),
                    Param("lambda_cat", 1.0, "weight λ of the categorical codes' L_I", minimum=0.0),
                    Param("lambda_cont", 1.0, "weight λ of the continuous codes' L_I", minimum=0.0),
                ),
            ),
        )
    ]
