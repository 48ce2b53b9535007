"""The ``hagan3d`` model: HA-GAN, a hierarchical amortized GAN for 3-D volumes.

Source: Sun, Chen, Ghosh, Batmanghelich, "Hierarchical Amortized GAN for 3D High Resolution
Medical Image Synthesis", IEEE JBHI 26(8), 2022, and the authors' code, github.com/batmanlab/HA-GAN
at commit 1d4f226 (``models/Model_HA_GAN_128.py``, ``models/Model_HA_GAN_256.py``,
``models/layers.py``, ``train.py``, ``preprocess.py``). Not to be confused with ``hagan``
(:mod:`medganbench_plugins.models.hagan`), a 2-D hybrid augmented GAN of another paper.

What is taken as the authors' code has it (networks in
:mod:`~medganbench_plugins.models.hagan3d_nets`, training in
:mod:`~medganbench_plugins.models.hagan3d_model`):

- G = (G^A, G^H, G^L): G^A maps z ~ N(0, I_1024) through a linear layer to 4³ × 512 features
  and five 3³ convolutions with GroupNorm(8) and ReLU, nearest ×2 upsampling before some of
  them, to latent features of 64 channels at (S/4)³; G^H (two nearest ×2 upsamplings, each
  followed by a 3³ convolution, GroupNorm(8) + ReLU after the first, tanh after the last)
  turns a depth slab of them into voxels; G^L (three 3³ convolutions, GroupNorm(8) + ReLU
  between, tanh) turns all of them into a low-resolution (S/4)³ volume.
- D = (D^H, D^L), spectrally normalised, leaky ReLU 0.2: D^H scores a sub-volume of S/8
  slices, its features concatenated with the crop index ÷ (S·7/8) before two linear layers;
  D^L scores the (S/4)³ volume; D's logit is their mean.
- E^H (``Encoder``) maps a real sub-volume to G^H's input features; E^G (``Sub_Encoder``) maps
  the E^H features of all eight sub-volumes, stacked in depth, to a noise vector.
- One iteration (``train.py``): draw one crop index k uniform in [0, S·7/8]; the real crop is
  slices k … k + S/8 − 1, the real low-res volume ``F.interpolate(x, scale_factor=0.25)``;
  (1) D step, BCE-with-logits: real (crop, low-res, k) → 1, G's (crop, low-res) from fresh
  noise → 0, G frozen; (2) ``g_iter`` G steps, fresh noise each, same k, D frozen, BCE → 1;
  (3) E^H step: L1(G^H(E^H(real crop)), real crop), G frozen; (4) E^G step:
  (L1(G's crop, real crop) + L1(G^L's volume, real low-res)) / 2 for G(E^G(features)) at the
  same k, G and E^H frozen, E^H's features computed without gradients.
- Adam for each network, β = (0, 0.999), ε = 1e-8; learning rates 1e-4 (G), 4e-4 (D), 1e-4 (E^H
  and E^G); batch size 4; latent dimension 1024; PyTorch's default initialisation (the code
  applies none).

Parameter counts at S = 128 with the defaults equal the authors' classes (the tests hold them):
G 52,518,210, D 7,241,442, E^H 161,152, E^G 19,663,168; at S = 256: G 52,518,210,
D 7,402,258, E^H 161,152, E^G 19,663,264. Checked once outside the repository as well: with
the authors' weights copied into these networks layer by layer and spectral normalisation
taken out on both sides, G's training path (crop and low-res volume), its full-volume path,
G^H alone, D, E^H and E^G give exactly the authors' outputs at 128 and at 256.

Readings and differences:

- **Sizes.** The authors build 128 and 256 only; this model builds S ∈ {32, 64, 128, 256} by
  one rule that gives both of theirs exactly. With L = log2(S/16) (1, 2, 3, 4): G^A upsamples
  before the first L of its convolutions 2–5 (4³ → (S/4)³; at 128 before 2, 3, 4, at 256 before
  2–5); G^H always upsamples ×4 per side; D^H, D^L and E^G are the authors' 256-px stacks less
  their first log2(256/S) strided convolutions, the first one kept reading the input's
  channels (as 128 px is 256 px less ``conv1``). Hence: D^H at 128 drops the 256 stack's
  ``conv1``; at 64 also ``conv2`` (128 px names: its ``conv3`` reads the image, 1 → 64); at 32
  also ``conv3`` (``conv4``, kernel (2, 4, 4), reads the image, 1 → 128), always ending at 1³
  ((S/8, S, S) → … → (1, 4, 4) → (1, 1, 1)). D^L at 64 drops 128 px's ``conv2`` (``conv3``
  reads the image, 1 → 128); at 32 also ``conv3`` (``conv4``, 1 → 256). E^G at 64 drops 128
  px's ``conv2`` (``conv3`` reads the 64 feature channels); at 32 also ``conv3`` (``conv4``,
  64 → 256). G and E^H have the same layers at every size. The sub-volume is S/8 slices, the
  low-res volume S/4 per side, the latent slab S/32 slices (4 at 128, 1 at 32), the crop index
  is normalised by S·7/8 (their 112 and 224). Parameter counts of this rule at 32 and 64 (ours,
  not the authors'): G 52,518,210 at both; D 4,240,834 (32) and 6,592,130 (64); E^H 161,152;
  E^G 17,827,584 (32) and 19,400,832 (64).
- **Crop alignment.** As in their code, G crops latent slices from ⌊k/4⌋, so G's sub-volume
  starts at slice 4⌊k/4⌋ while the real crop starts at k: for k not a multiple of 4 the two
  are up to 3 slices apart, in D's inputs and in E^G's reconstruction loss alike. Kept.
- **Spectral norm.** torch's ``parametrizations.spectral_norm`` (one power iteration per
  forward in training mode, none in eval) stands in for their ``SNConv3d``/``SNLinear``
  (BigGAN's ``SN``: one power iteration per forward, kept only in training mode; D never runs
  in eval mode here). Differences: torch keeps
  both singular vectors u and v and refines them with 15 power iterations when the layer is
  wrapped, theirs starts from a random u; torch's iteration goes v → u → v, theirs u → v → u.
  Neither counts its vectors as parameters, so parameter counts agree (buffers differ: theirs
  ``u0`` and ``sv0``, 1,646 values in D at 128; torch's ``_u`` and ``_v``, 51,107).
- **Their ``.cuda()``** in D^H's forward (the crop-index column): the column is made on the
  features' device and dtype.
- **Their ``squeeze()``** after D^H's last convolution and E^G's breaks at batch size 1; here
  ``flatten(1)``.
- **Their ``mode`` flag**: ``Generator(mode="train")`` given a crop index returns (crop,
  low-res), given none runs G^H alone (the E^H step); ``mode="eval"`` runs G^A → G^H on the
  whole latent volume. Here these are ``Generator.crop``, ``Generator.decode`` and
  ``Generator.forward``; :meth:`HAGAN3D.sample` runs the last, as their ``fid_score.py`` and
  ``visualization.ipynb`` sample (``G(noise)`` in eval mode).
- **RNG.** Noise and crop indices come from one ``torch.Generator`` owned by the model
  (seeded from the run's seed, saved in checkpoints; theirs: ``torch.randn`` and
  ``np.random.randint``); weights from torch's global RNG, seeded by the runner. The D step's
  fake volumes are made under ``no_grad`` (their G is frozen there: same values and gradients).
- **Intensities.** Their ``preprocess.py`` clips CT to [−1024, 600] HU, maps it linearly to
  [−1, 1], trims blank axial slices and resamples to S³; here the dataset's window maps
  volumes to [−1, 1] (``batch.b``), which is G's tanh range, so the conventions agree and the
  window, trimming and resampling are the dataset's.
- **Widths.** Their classes fix G's width 32, D^H's 512, D^L's 256, E^H's 64, E^G's 256;
  ``channels`` (c, default 32) sets them as c, 16c, 8c, 2c, 8c (G^L c/2), so narrower models
  keep the authors' ratios; it must be a multiple of 16 (G^L's GroupNorm(8) of c/2 channels).
  The image channels C (1 in theirs) are the dataset's.
- **Not implemented**: the conditional variant (``num_class`` > 0, auxiliary classifier loss)
  and ``Code_Discriminator`` (defined but unused in ``train.py``); ``DataParallel`` (the runner
  spreads a step over devices itself). Channels-last memory format is not used.

This module is the plugin: the readings above and the registered arguments. The networks and
the training model live beside it and are re-exported here.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.hagan3d_model import HAGAN3D
from medganbench_plugins.models.hagan3d_nets import (
    SIZES,
    Discriminator,
    Encoder,
    Generator,
    SubEncoder,
)
from medganbench_plugins.models.limits import MAX_WIDTH

# The registered factory ("…hagan3d:HAGAN3D") and the tests name these through this module.
__all__ = [
    "HAGAN3D",
    "SIZES",
    "Discriminator",
    "Encoder",
    "Generator",
    "SubEncoder",
    "medganbench_models",
]


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="hagan3d",
            summary="HA-GAN (Sun et al. 2022): 3-D hierarchical amortized GAN, sub-volume + low-res D, encoders. Unconditional, volumes.",
            version="1",
            factory="medganbench_plugins.models.hagan3d:HAGAN3D",
            params=(
                Param(
                    "latent_dim",
                    1024,
                    "noise dimension; z ~ N(0, I) (train.py --latent-dim)",
                    minimum=1,
                    maximum=MAX_WIDTH,
                ),
                Param(
                    "channels",
                    32,
                    "G's width c (D^H 16c, D^L 8c, E^H 2c, E^G 8c); a multiple of 16",
                    minimum=16,
                    maximum=MAX_WIDTH,
                ),
                Param("batch_size", 4, "volumes per step (train.py)", minimum=1),
                Param("lr_g", 1e-4, "Adam learning rate of G (train.py)", minimum=0.0),
                Param("lr_d", 4e-4, "Adam learning rate of D (train.py)", minimum=0.0),
                Param("lr_e", 1e-4, "Adam learning rate of E^H and E^G (train.py)", minimum=0.0),
                Param("beta1", 0.0, "Adam's β1 (train.py)", minimum=0.0),
                Param("beta2", 0.999, "Adam's β2 (train.py)", minimum=0.0),
                Param(
                    "g_iter",
                    1,
                    "G updates per iteration, fresh noise each (train.py --g-iter)",
                    minimum=1,
                ),
            ),
        )
    ]
