"""The ``wgan`` model: WGAN with weight clipping (Arjovsky, Chintala & Bottou, ICML 2017).

Paper 002 lists WGAN apart from WGAN-GP (``wgan-gp`` in :mod:`.unconditional`, unchanged). As in
Algorithm 1 of the WGAN paper:

- the critic's loss is E[D(G(z))] − E[D(x)], the generator's −E[D(G(z))], on raw scores;
- after every critic update each critic parameter is clipped to [−c, c], c = 0.01;
- n_critic = 5 critic updates per generator update, RMSprop with lr 5e-5 for both networks
  (torch's RMSprop defaults otherwise, as in the authors' code: α = 0.99, ε = 1e-8), batch 64.

The networks are the DCGAN pair of :mod:`.unconditional` with batch norm in G and in the critic
(the authors' DCGAN critic keeps it; clipping applies to its scale and shift too), or, with
``arch=mlp``, the MLPs of Sec. 4.3 (:mod:`medganbench_plugins.nn.mlp`). A step's batch is shared
among the critic updates exactly as ``wgan-gp`` does (see :mod:`.unconditional`).

Left out, and said so in docs/models.md: the authors' code runs 100 critic updates for the first
25 generator updates and every 500th one; Algorithm 1 does not, and neither does this plugin.
HAGAN's Table I lists its WGAN at 13.3 M (G) and 6.4 M (D) parameters with FLOPs in proportion
to the parameters, which only fully connected networks give; ``arch=mlp mlp_width=1024`` has a
6.30 M critic (the generator is 6.40 M, see docs/models.md).
"""

from __future__ import annotations

import torch
from torch import nn

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.limits import MAX_WIDTH
from medganbench_plugins.models.unconditional import UnconditionalGAN, unconditional_params
from medganbench_plugins.nn.mlp import MLPCritic, MLPGenerator

ARCHS: tuple[str, ...] = ("dcgan", "mlp")


class WGAN(UnconditionalGAN):
    """WGAN: Wasserstein critic kept Lipschitz by weight clipping, RMSprop, n_critic updates."""

    d_norm = "batch"
    loss = "wgan"

    @property
    def arch(self) -> str:
        return str(self.args["arch"])

    def build_generator(self) -> nn.Module:
        if self.arch == "mlp":
            return MLPGenerator(
                self.ctx.image_size,
                self.latent_dim,
                self.ctx.dataset.b.channels,
                int(self.args["mlp_width"]),
            )
        return super().build_generator()

    def build_critic(self) -> nn.Module:
        if self.arch == "mlp":
            return MLPCritic(
                self.ctx.image_size, self.ctx.dataset.b.channels, int(self.args["mlp_width"])
            )
        return super().build_critic()

    def make_optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        # Sec. 3: momentum-based optimisers (Adam) made the critic unstable; RMSprop it is.
        return torch.optim.RMSprop(net.parameters(), lr=lr)

    @torch.no_grad()
    def after_critic_step(self) -> None:
        clip = float(self.args["clip"])
        for p in self.critic.parameters():
            p.clamp_(-clip, clip)


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="wgan",
            summary="WGAN (Arjovsky et al. 2017): unconditional, weight clipping 0.01, RMSprop 5e-5, 5 critic steps.",
            version="1",
            factory="medganbench_plugins.models.wgan:WGAN",
            params=unconditional_params(
                batch_size=64,
                lr_g=5e-5,
                lr_d=5e-5,
                betas=False,
                extra=(
                    Param(
                        "n_critic",
                        5,
                        "critic updates per generator update (the step's batch is split among them)",
                        minimum=1,
                    ),
                    Param("clip", 0.01, "critic weights are clipped to [-clip, clip]", minimum=0.0),
                    Param(
                        "arch", "dcgan", "networks: DCGAN convolutions or the MLPs", choices=ARCHS
                    ),
                    Param(
                        "mlp_width",
                        512,
                        "hidden units per layer with arch=mlp",
                        minimum=1,
                        maximum=MAX_WIDTH,
                    ),
                ),
            ),
        )
    ]
