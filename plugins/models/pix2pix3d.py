"""The ``pix2pix3d`` model: pix2pix (Isola et al., CVPR 2017) on paired volumes, e.g. MR → CT.

The model is ``pix2pix``'s class (:class:`~medganbench_plugins.models.pix2pix.Pix2Pix`) with
:attr:`spatial_dims` 3: the same training step and losses (BCE GAN loss, non-saturating for
the generator, plus λ = 100 times the L1 distance to the target; the discriminator's loss
halved), Adam (lr 2e-4, β = (0.5, 0.999)), linear decay over the second half of the budget,
batch size 1, the N(0, 0.02) initialisation, dropout 0.5 in the inner decoder levels and the
paper's test mode — on (N, C, D, H, W) volumes in [-1, 1]. Its networks are the shared
builders with ``dims=3``: every 4×4 convolution of the reference's U-Net and 70×70 PatchGAN is
a 4×4×4 one, every norm a 3-D one.

Readings (no 3-D pix2pix in the reference code; where a choice was needed):

- **U-Net depth follows the volume.** The reference picks unet_256 (8 levels) or unet_128 (7)
  by name so the bottleneck is 1×1; here the depth is the number of times every side of the
  dataset's volumes (:attr:`~medganbench.core.dataset.DatasetInfo.volume`) halves, at most 8
  (:func:`~medganbench_plugins.nn.generators.unet_depth`): 32³ → 5 levels (bottleneck 1³, as
  a unet_32 would), 64³ → 6, 128³ → 7 (the reference's unet_128), 256³ → 8. A side that is not
  a multiple of 32 is refused, as ``pix2pix`` refuses such an image size.
- **Widths ngf = ndf = 32** (the reference: 64). A 4×4×4 kernel has four times the weights of
  a 4×4 one, so halving the filters keeps every convolution's weight count equal to the 2-D
  reference's: the 3-D U-Net at 32³ has 16,654,145 parameters against unet_32's 16,652,929 at
  ngf 64 (one channel in and out), the 3-D PatchGAN 2,773,921 against 2,764,609. On one CPU
  thread a step then costs about 0.2 s at 32³ and 0.7 s at 64³ (benchmarks/README.md); at
  ngf = ndf = 64 (77.7 M parameters at 32³) a 32³ step costs about six times as much.
  ``ngf=64 ndf=64`` gives the reference's widths.
- **PatchGAN receptive field.** Three stride-2 and two stride-1 4×4×4 convolutions: each logit
  sees a 70×70×70 window (logit i spans voxels 8i − 23 to 8i + 46 along each axis). At 32³
  (2³ logits) every logit sees the whole volume; at 64³ (6³ logits) 47 to 64 voxels of each
  axis; only from 128³ (14³ logits) are the patches a fraction of the volume, as 70 of 256 px
  are in the 2-D paper. n_layers stays 3, the reference's default.
- **Batch-norm initialisation.** The reference's rule draws the scale of every *BatchNorm2d*
  from N(1, 0.02) (it matches the class name); :class:`torch.nn.BatchNorm3d` is not one, so
  its scales start at 1 and its shifts at 0, as a 3-D port of the reference code leaves them.
- **Norms.** ``batch`` (default), ``instance`` and ``layer``; Switchable Normalization
  (``pix2pix``'s fourth choice) is 2-D only.
- **fp32 on CPUs.** On a CPU the model ignores the run's bf16 autocast and trains in fp32:
  torch 2.14's oneDNN returns garbage bf16 weight gradients for the PatchGAN's last layer at
  32³ (3³ in, 2³ out; errors of 1e28, different on every run), and fp32 costs about as much
  time there. On GPUs bf16 autocast is used as the run asks.
- A context without volume geometry (a model built by hand) means a cube of ``image_size``
  voxels.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.pix2pix import Pix2Pix, pix2pix_params
from medganbench_plugins.nn.norms import VOLUME_NORM_KINDS

#: Default generator and discriminator widths (the reference's 64 halved: see the readings).
VOLUME_WIDTH = 32


class Pix2Pix3D(Pix2Pix):
    """pix2pix's U-Net generator and PatchGAN discriminator on (N, C, D, H, W) volume pairs."""

    spatial_dims = 3


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="pix2pix3d",
            summary="pix2pix on volumes: 3-D U-Net generator, 3-D 70³ PatchGAN on pairs, GAN + 100·L1. Paired data only.",
            version="1",
            factory="medganbench_plugins.models.pix2pix3d:Pix2Pix3D",
            params=pix2pix_params(ngf=VOLUME_WIDTH, ndf=VOLUME_WIDTH, norms=VOLUME_NORM_KINDS),
        )
    ]
