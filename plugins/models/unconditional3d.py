"""3-D unconditional GANs (noise → target-domain volume): the ``dcgan3d`` and ``wgan-gp3d`` plugins.

The dense 3-D GAN baselines of volume synthesis: HA-GAN (Sun et al., IEEE JBHI 2022) keeps its
3-D baselines in ``evaluation/baseline_models/`` of its code (batmanlab/HA-GAN), written after
Kwon et al.'s (MICCAI 2019, cyclomon/3dbraingen). They are the 2-D ``dcgan`` and ``wgan-gp`` of
:mod:`~medganbench_plugins.models.unconditional` with every network layer in 3-D: the same
:class:`UnconditionalGAN` training (losses, optimisers, critic steps and the splitting of a
batch among them, gradient penalty, RNGs, checkpoint state), on ``batch.b`` volumes of shape
(N, C, S, S, S) in [-1, 1]; :meth:`sample` returns volumes of that shape. S (``image_size``) is
a power of two from 16 to 128; other sizes, including the 2-D models' 256, are refused with a
:class:`~medganbench.errors.UsageError`.

- ``dcgan3d``: DCGAN (Radford et al. 2016) in 3-D: batch norm in both networks, non-saturating
  BCE, Adam 2e-4, β = (0.5, 0.999);
- ``wgan-gp3d``: WGAN-GP (Gulrajani et al. 2017, Alg. 1) in 3-D: Wasserstein loss, gradient
  penalty λ = 10 at per-volume interpolates, a layer-norm critic (normalising each volume over
  (C, D, H, W)), 5 critic updates per generator update, Adam 1e-4, β = (0, 0.9).

Networks (:mod:`medganbench_plugins.nn.sampling` with ``dims=3``): G projects z to 4³ with a 4³
transposed convolution, doubles the side with 4³ stride-2 transposed convolutions, batch norm and
ReLU, and ends in tanh, with ngf·min(2^(k−1), 8) channels at 4³ halving to ngf; D mirrors it with
4³ stride-2 convolutions (no norm on the first), LeakyReLU 0.2 and a 4³ valid convolution to one
logit per volume.

Readings (where the references differ, which one is taken):

- Architecture. Kwon et al.'s 64³ critic (``Model_WGAN.py``) is this D with ``ndf=64`` (4³
  stride-2 convolutions, LeakyReLU 0.2, 64·2^i channels, 512 at 4³; HA-GAN's 128³ copy flattens
  its last kernels to 1×4×4), but both generators upsample by nearest-neighbour interpolation
  and apply 3³ convolutions (after a linear layer from z to 512·4³ in Kwon's, a 4³ transposed
  convolution in HA-GAN's). Here G keeps DCGAN's
  transposed convolutions (the 3-D DCGAN generator of Wu et al. 2016's 3D-GAN, with tanh for
  intensities instead of its sigmoid for occupancy), so the 2-D and 3-D models differ only in
  dimension; the channel plan (512 at 4³, halving per level, for ngf = 64 at 64³) is Kwon's.
  D's convolutions before a norm have no bias (the norm's shift makes it redundant), as in 2-D;
  Kwon's 64³ critic ends in a stride-2 convolution (2³ logits, averaged by the loss), HA-GAN's
  128³ one in a valid convolution to one logit, which is taken.
- WGAN-GP training is Gulrajani et al.'s, as in 2-D: a layer-norm critic (Kwon's keeps batch
  norm, which Sec. 4 of the WGAN-GP paper advises against under a per-sample penalty), 5 critic
  updates per generator update (Kwon's notebook does one critic and five generator updates),
  the penalty on the gradient's norm over the whole volume (Kwon's takes it over the channel
  axis only), Adam 1e-4, β = (0, 0.9) (Kwon: Adam 2e-4, torch's default β).
- Latent: z ∈ U[-1, 1]^100, as the 2-D models (DCGAN, paper 002); Kwon's is N(0, I)^1000.
- Batch: 4 volumes per step, Kwon et al.'s batch size. With n_critic = 5 > 4, ``wgan-gp3d``
  reuses the whole batch for every critic update (the rule of the 2-D model: a batch of at least
  n_critic volumes is split among the updates instead).
- Width: ``ngf`` = ``ndf`` = 32 by default, half of Kwon's 64: 256 channels at 4³ for 64³
  volumes (the cap of 8·ngf is reached from 64³ on). ``ngf=64 ndf=64`` gives Kwon's widths at
  about three times the parameters and the step time; the default keeps a 32³ step on one CPU
  core within seconds (times in benchmarks/README.md).
- Sizes: 16³ to 128³. HA-GAN's baselines stop at 128³; its premise is that GPU memory keeps
  dense 3-D GANs at low resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medganbench.core.hookspecs import hookimpl
from medganbench.core.model import ModelContext
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench.errors import UsageError
from medganbench_plugins.models.unconditional import UnconditionalGAN, unconditional_params
from medganbench_plugins.nn.sampling import MAX_VOLUME_SIZE, MIN_VOLUME_SIZE

#: The cube sides the 3-D networks are built for: the powers of two the builders accept.
VOLUME_SIZES: tuple[int, ...] = tuple(
    2**k for k in range(MIN_VOLUME_SIZE.bit_length() - 1, MAX_VOLUME_SIZE.bit_length())
)
#: Default ``ngf``/``ndf`` of the 3-D models (see the module docstring's "Width").
WIDTH_3D = 32
#: Default volumes per step (Kwon et al. 2019's batch size).
BATCH_3D = 4


class UnconditionalGAN3D(UnconditionalGAN):
    """An :class:`UnconditionalGAN` on volumes: (N, C, S, S, S) in, (n, C, S, S, S) sampled.

    Raises:
        UsageError: ``image_size`` is not a power of two from 16 to 128.
    """

    spatial_dims = 3

    def __init__(self, args: Mapping[str, Any], ctx: ModelContext) -> None:
        if ctx.image_size not in VOLUME_SIZES:
            sizes = ", ".join(map(str, VOLUME_SIZES))
            raise UsageError(
                f"The 3-D GANs build volumes of side {sizes}; image size {ctx.image_size} is "
                "not one of them.",
                hint=f"Choose --image-size from {sizes} (32 or 64 on a CPU).",
            )
        super().__init__(args, ctx)


class DCGAN3D(UnconditionalGAN3D):
    """DCGAN in 3-D: batch norm in G and D, non-saturating BCE."""

    d_norm = "batch"
    loss = "bce"


class WGANGP3D(UnconditionalGAN3D):
    """WGAN-GP in 3-D: layer-norm critic, Wasserstein loss + 10·gradient penalty."""

    d_norm = "layer"
    loss = "wgan-gp"


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="dcgan3d",
            summary="DCGAN (Radford et al. 2016) in 3-D: unconditional volumes, batch norm, BCE.",
            version="1",
            factory="medganbench_plugins.models.unconditional3d:DCGAN3D",
            params=unconditional_params(
                batch_size=BATCH_3D,
                lr_g=2e-4,
                lr_d=2e-4,
                beta1=0.5,
                beta2=0.999,
                width=WIDTH_3D,
            ),
        ),
        ModelSpec(
            name="wgan-gp3d",
            summary="WGAN-GP (Gulrajani et al. 2017) in 3-D: unconditional volumes, layer-norm critic, gradient penalty 10, 5 critic steps.",
            version="1",
            factory="medganbench_plugins.models.unconditional3d:WGANGP3D",
            params=unconditional_params(
                batch_size=BATCH_3D,
                lr_g=1e-4,
                lr_d=1e-4,
                beta1=0.0,
                beta2=0.9,
                width=WIDTH_3D,
                extra=(
                    Param(
                        "n_critic",
                        5,
                        "critic updates per generator update (a batch of at least n_critic "
                        "volumes is split among them, a smaller one reused)",
                        minimum=1,
                    ),
                ),
            ),
        ),
    ]
