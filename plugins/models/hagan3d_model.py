"""The HA-GAN training model: the four updates of one iteration (D, G, E^H, E^G), sampling and
state.

It trains the networks of :mod:`~medganbench_plugins.models.hagan3d_nets`. The paper, the
authors' code it follows, the size rule and every reading are in
:mod:`medganbench_plugins.models.hagan3d`, the plugin module. Not a plugin module: it registers
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medganbench.core.model import ModelContext, Task, TrainBatch
from medganbench.errors import UsageError
from medganbench_plugins.models.adversarial import AdversarialModel
from medganbench_plugins.models.hagan3d_nets import (
    SIZES,
    Discriminator,
    Encoder,
    Generator,
    SubEncoder,
    crop_limit,
    low_res_volume,
)
from medganbench_plugins.nn.training import (
    autocast,
    count_parameters,
    loss_tensors,
    make_optimizer,
    set_requires_grad,
    to_device,
)

__all__ = ["SAMPLE_CHUNK", "HAGAN3D"]

#: Most volumes :meth:`HAGAN3D.sample` pushes through G at once; the noise of all of them is
#: drawn first, so the chunking never changes the result.
SAMPLE_CHUNK = 4

#: Offset of the model's RNG seed from the run's seed (any fixed number: the runner's own RNGs
#: are seeded with the run's seed itself).
RNG_OFFSET = 35


def _bce(logits: Tensor, target: float) -> Tensor:
    # nn.BCEWithLogitsLoss (mean) against a constant label, in fp32 under autocast.
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _l1(have: Tensor, want: Tensor) -> Tensor:
    # nn.L1Loss (mean), in fp32 under autocast.
    return F.l1_loss(have.float(), want.float())


class HAGAN3D(AdversarialModel):
    """HA-GAN (see :mod:`medganbench_plugins.models.hagan3d` for the paper, the authors' code
    and the readings chosen).

    Networks, in :attr:`nets` order: the generator G (G^A, G^H, G^L), the discriminator D
    (D^H, D^L), the encoder E^H and the sub-encoder E^G; one Adam optimiser each.
    """

    task = Task.SAMPLE
    spatial_dims = 3

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        super().__init__(args, ctx)
        size = ctx.image_size
        if size not in SIZES:
            raise UsageError(f"hagan3d builds volumes of side {SIZES}, not {size}.")
        volume = ctx.dataset.volume
        if volume is not None and tuple(volume.size) != (size, size, size):
            raise UsageError(
                f"hagan3d makes cubes of {size}³ voxels; the dataset's volumes are "
                f"{'×'.join(str(s) for s in volume.size)}."
            )
        c = int(self.args["channels"])
        if c % 16:
            raise UsageError(
                f"hagan3d's channels must be a multiple of 16 (G^L's group norms of c/2 "
                f"channels take 8 groups), not {c}."
            )
        self.size = size
        self.latent_dim = int(self.args["latent_dim"])
        self.g_iter = int(self.args["g_iter"])
        image_channels = ctx.dataset.b.channels
        self.generator = Generator(size, self.latent_dim, c, image_channels)
        self.discriminator = Discriminator(size, 16 * c, image_channels)
        self.encoder = Encoder(2 * c, image_channels)
        self.sub_encoder = SubEncoder(size, 8 * c, self.latent_dim)
        for net in self.nets:
            net.to(ctx.device)
        betas = (float(self.args["beta1"]), float(self.args["beta2"]))
        lr_e = float(self.args["lr_e"])
        self.opt_g = make_optimizer(
            "adam", self.generator.parameters(), float(self.args["lr_g"]), *betas
        )
        self.opt_d = make_optimizer(
            "adam", self.discriminator.parameters(), float(self.args["lr_d"]), *betas
        )
        self.opt_e = make_optimizer("adam", self.encoder.parameters(), lr_e, *betas)
        self.opt_sub_e = make_optimizer("adam", self.sub_encoder.parameters(), lr_e, *betas)
        # One RNG for noise and crop indices, saved with the model: resume is exact.
        self.rng = torch.Generator().manual_seed(ctx.seed + RNG_OFFSET)

    @property
    def nets(self) -> tuple[nn.Module, ...]:
        """G, D, E^H, E^G."""
        return (self.generator, self.discriminator, self.encoder, self.sub_encoder)

    def trained_modules(self) -> dict[str, nn.Module]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "encoder": self.encoder,
            "sub_encoder": self.sub_encoder,
        }

    def inference_modules(self) -> dict[str, nn.Module]:
        # Sampling runs G^A → G^H; G^L is part of the generator's weights all the same.
        return {"generator": self.generator}

    def _noise(self, n: int, generator: torch.Generator) -> Tensor:
        # train.py: torch.randn((batch_size, latent_dim)).
        return to_device(torch.randn(n, self.latent_dim, generator=generator), self.ctx.device)

    def draw_crop(self) -> int:
        """A crop index uniform in [0, S·7/8] (train.py: ``np.random.randint(0, S*7/8 + 1)``)."""
        return int(torch.randint(0, crop_limit(self.size) + 1, (), generator=self.rng))

    def _sub_volumes(self, real: Tensor) -> Tensor:
        """E^H's latent features of the eight S/8-slice sub-volumes of ``real``, stacked in depth."""
        step = self.size // 8
        return torch.cat(
            [self.encoder(real[:, :, k : k + step]) for k in range(0, self.size, step)], 2
        )

    def train_step(self, batch: TrainBatch) -> dict[str, Tensor]:
        real = batch.b
        n, s = real.shape[0], self.size
        if real.shape[2:] != (s, s, s):
            raise ValueError(
                f"hagan3d expects (N, C, {s}, {s}, {s}) volumes, got {tuple(real.shape)}"
            )
        device, amp = self.ctx.device, self.ctx.amp
        g, d, e, sub_e = self.generator, self.discriminator, self.encoder, self.sub_encoder
        start = self.draw_crop()
        real_small = low_res_volume(real)
        real_crop = real[:, :, start : start + s // 8]
        # ---- D (D^H and D^L): real crop and low-res volume against G's; G frozen ----
        set_requires_grad((g, e, sub_e), False)
        set_requires_grad((d,), True)
        with autocast(device, amp):
            d_real = _bce(d(real_crop, real_small, start), 1.0)
            with torch.no_grad():
                fake_crop, fake_small = g.crop(self._noise(n, self.rng), start)
            d_fake = _bce(d(fake_crop, fake_small, start), 0.0)
            loss_d = d_real + d_fake
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # ---- G (G^A, G^H, G^L): fresh noise, the same crop; D frozen ----
        set_requires_grad((d,), False)
        set_requires_grad((g,), True)
        g_losses: list[Tensor] = []
        for _ in range(self.g_iter):
            with autocast(device, amp):
                loss_g = _bce(d(*g.crop(self._noise(n, self.rng), start), start), 1.0)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            g_losses.append(loss_g.detach())
        # ---- E^H: reconstruct the real crop through the frozen G^H ----
        set_requires_grad((g,), False)
        set_requires_grad((e,), True)
        with autocast(device, amp):
            loss_e = _l1(g.decode(e(real_crop)), real_crop)
        self.opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        self.opt_e.step()
        # ---- E^G: the whole volume's E^H features → noise → frozen G, crop and low-res ----
        set_requires_grad((e,), False)
        set_requires_grad((sub_e,), True)
        with autocast(device, amp):
            with torch.no_grad():
                features = self._sub_volumes(real)
            rec_crop, rec_small = g.crop(sub_e(features), start)
            loss_sub_e = (_l1(rec_crop, real_crop) + _l1(rec_small, real_small)) / 2.0
        self.opt_sub_e.zero_grad(set_to_none=True)
        loss_sub_e.backward()
        self.opt_sub_e.step()
        set_requires_grad(self.nets, True)
        return loss_tensors(
            ("d", "d_real", "d_fake", "g", "e", "sub_e"),
            (loss_d, d_real, d_fake, torch.stack(g_losses).mean(), loss_e, loss_sub_e),
        )

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` volumes (n, C, S, S, S) float32 in [-1, 1]: z ~ N(0, I) drawn on the CPU from
        ``generator``, through the full-volume path G^A → G^H under no_grad."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        with torch.no_grad(), autocast(self.ctx.device, self.ctx.amp):
            parts = [
                self.generator(to_device(chunk, self.ctx.device)).float()
                for chunk in z.split(SAMPLE_CHUNK)
            ]
        return torch.cat(parts, 0).clamp(-1.0, 1.0).contiguous()

    def extra_state(self) -> dict[str, Any]:
        return {
            "opt_e": self.opt_e.state_dict(),
            "opt_sub_e": self.opt_sub_e.state_dict(),
            "rng": self.rng.get_state(),
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.opt_e.load_state_dict(state["opt_e"])
        self.opt_sub_e.load_state_dict(state["opt_sub_e"])
        self.rng.set_state(state["rng"])

    def network_parameter_counts(self) -> dict[str, int]:
        """Learned parameters of each network, by :meth:`trained_modules` name."""
        return {name: count_parameters((net,)) for name, net in self.trained_modules().items()}
