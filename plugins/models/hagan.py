"""The ``hagan`` model: HAGAN, a hybrid augmented GAN for unconditional medical image synthesis.

Source: "HAGAN: Hybrid Augmented Generative Adversarial Network for Medical Image Synthesis"
(``../shared/papers/002_*``), Sec. III (eq. 1–8, Fig. 2–4) and Sec. IV (implementation notes,
Table I parameter counts, Table IV ablation).

What is taken as stated:

- a SAGAN-structured generator (Sec. IV "the generator structure is consistent with SAGAN"):
  z ∈ U[-1, 1]^100 (1000 for high-resolution runs) projected to 4×4 by a transposed convolution,
  stride-2 transposed-convolution blocks with BatchNorm and ReLU, one self-attention block
  whose attention map feeds AttnMix, a tanh output (:class:`Generator`);
- AttnMix (Sec. III-B, eq. 1–4): CutMix of real and fake images with a binary mask M (1 = real)
  whose image-level label is re-weighted by the generator's last attention map (:func:`attnmix`);
- a hierarchical discriminator (Sec. III-C): a four-layer (at 64 px) downsampling image branch
  and a pixel branch that reduces channels back to a per-pixel true/fake map (:class:`HierDiscriminator`);
- L_D = L_img + β1·L_pixel + β2·L_cons (eq. 7) and L_G = L_img + β·L_pixel (eq. 8) with the
  non-saturating ("unsaturated target") BCE loss (Sec. III-B);
- Reverse Skip Connection (Sec. III-D, Fig. 4): features of D's real-image path fed into G at
  the same resolution;
- DiffAugment T on real and fake images (Sec. III-B);
- a two-phase schedule (Sec. III-E "Training Strategies"): plain training on un-augmented data
  first, then augmented training with AttnMix;
- Adam with learning rate 1e-3 for G and D, batch size 32 (Sec. IV).

Readings chosen where the paper is silent or ambiguous (each exposed as an argument where it
is a number or a switch):

- eq. 3–4, ``alpha``: λ1 = Σ M⊙A / Σ A with A the attention map's per-pixel saliency (how much
  attention each key position receives, summed over all query positions, upsampled to image
  size); eq. 4's λ = α(λ0 + λ1) only stays a valid label in [0, 1] for α = ½, so it is written as
  λ = (1 − α)·λ0 + α·λ1, which is eq. 4 exactly at the default α = 0.5.
- L_cons (eq. 5), ``beta2``: image level, BCE(D_img(i), λ) (the mixed image's soft label,
  Sec. III-B "the label at the image level is ... λ"); pixel level (only with the pixel branch,
  Table IV's "Cons Pix Loss"), BCE(D_pix(i), M) + ‖D_pix(i) − (M⊙D_pix(T(x)) + (1−M)⊙D_pix(T(G(z))))‖²
  on logits (eq. 5, UNetGAN-style, target not detached). The generator sees no mixed images:
  eq. 8 has no consistency term, and the fakes are detached before mixing.
- the adversarial loss is BCE, not L2: Sec. III-B says "unsaturated target", Sec. III-E says "L2";
  the brief of this benchmark fixes the former.
- Reverse Skip Connection: D's encoder features of the real batch at resolution r (r = 8 …
  size/2), detached and averaged over the batch, go through a per-resolution 1×1 convolution of
  G and are added to G's features at r (broadcast over G's batch). Sampling has no real batch,
  so G keeps an exponential moving average (decay ``skip_decay``, first value copied) of those
  batch means as buffers; :meth:`HAGAN.sample` uses them. The 4×4 level is skipped to keep
  G near Table I's 3.6 M parameters.
- DiffAugment: translation (⅛ of the side), cutout (half the side) and brightness/contrast, as in
  Zhao et al. 2020's gray/colour policy, filled with 0 (mid-grey in [-1, 1]) as DiffAugment does,
  with fresh random parameters for each batch it sees (real and fake alike), drawn from a
  ``torch.Generator`` owned by the model.
- Phase one (fraction of the budget < ``warmup``; the paper's 100 warm-up epochs) is the
  "conventional training" of Sec. III-E: no augmentation and no mixing; phase two switches on
  DiffAugment (``diffaug``) and AttnMix (``attnmix``). ``two_phase=false`` starts in phase two.
- the pixel branch is a U-Net-style decoder of 1×1 convolutions ("channel dimension
  downsampling path"): upsample ×2, reduce channels to the encoder level's, add that level's
  features, LeakyReLU; a final 1×1 convolution gives one logit per pixel at full size. D uses
  spectral normalisation (SAGAN); G uses BatchNorm (SAGAN).
- the self-attention block sits at min(size/2, 64) px, so the attention map stays tractable at
  256 px; SAGAN's 64 px generator has it at 32 px.

Parameter counts at 64 px, 1 channel, defaults: G 3,666,322 (Table I: 3.6 M), D 2,935,234
(Table I: 2.8 M; the pixel branch adds 0.17 M to a DCGAN encoder of 2.77 M).

The paper's ablation grid (Table IV) is :data:`TABLE4_ABLATION`.

This module is the plugin: the readings above, the ablation grid and the registered arguments.
The rest lives beside it, one job each, and is re-exported here: the networks in
:mod:`~medganbench_plugins.models.hagan_nets`, AttnMix and DiffAugment in
:mod:`~medganbench_plugins.models.hagan_augment`, the training model in
:mod:`~medganbench_plugins.models.hagan_model`.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.hagan_augment import attnmix, diff_augment
from medganbench_plugins.models.hagan_model import HAGAN, SIZES
from medganbench_plugins.models.hagan_nets import Generator, HierDiscriminator, SelfAttention
from medganbench_plugins.models.limits import MAX_WIDTH

# The model, its networks and image operations are re-exported: the registered factory
# ("…hagan:HAGAN") and the tests name them through this module.
__all__ = [
    "HAGAN",
    "SIZES",
    "TABLE4_ABLATION",
    "Generator",
    "HierDiscriminator",
    "SelfAttention",
    "attnmix",
    "diff_augment",
    "medganbench_models",
]

#: HAGAN Table IV (COVID-CT): label → model arguments of ``hagan``. Each row adds one module to
#: the one above. "Base Model" is SAGAN with image-level loss only; "+ AttnMix Generator" adds
#: DiffAugment, AttnMix and image-level consistency (Table IV's "Cons Img Loss"), trained from the
#: start; the pixel branch brings the pixel-level adversarial and consistency losses together.
TABLE4_ABLATION: dict[str, dict[str, str]] = {
    "Base Model": {
        "attnmix": "false",
        "diffaug": "false",
        "reverse_skip": "false",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ AttnMix Generator": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "false",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ Reverse Skip Connection": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "false",
        "two_phase": "false",
    },
    "+ Hierarchical Discriminator": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "true",
        "two_phase": "false",
    },
    "+ Training Strategy(Ours)": {
        "attnmix": "true",
        "diffaug": "true",
        "reverse_skip": "true",
        "pixel_branch": "true",
        "two_phase": "true",
    },
}


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="hagan",
            summary="HAGAN: SAGAN generator, AttnMix consistency, hierarchical (image+pixel) D, reverse skip. Unconditional.",
            version="2",
            factory="medganbench_plugins.models.hagan:HAGAN",
            params=(
                Param(
                    "z_dim",
                    0,
                    "noise dimension; 0 = 100 below 256 px, 1000 at 256 px (Sec. IV)",
                    minimum=0,
                    maximum=MAX_WIDTH,
                ),
                Param(
                    "ngf",
                    64,
                    "generator filters at the last feature level",
                    minimum=1,
                    maximum=MAX_WIDTH,
                ),
                Param(
                    "ndf",
                    64,
                    "discriminator filters at the first level",
                    minimum=1,
                    maximum=MAX_WIDTH,
                ),
                Param("lr_g", 1e-3, "Adam learning rate of G (Sec. IV)", minimum=0.0),
                Param("lr_d", 1e-3, "Adam learning rate of D (Sec. IV)", minimum=0.0),
                Param("adam_beta1", 0.5, "Adam's β1", minimum=0.0),
                Param("adam_beta2", 0.999, "Adam's β2", minimum=0.0),
                Param(
                    "batch_size",
                    32,
                    "images per step (Sec. IV: 32 low-resolution, 2 high)",
                    minimum=1,
                ),
                Param("attnmix", True, "AttnMix mixing and consistency loss (Sec. III-B)"),
                Param("diffaug", True, "DiffAugment in the augmented phase (Sec. III-B)"),
                Param("reverse_skip", True, "Reverse Skip Connection D→G (Sec. III-D)"),
                Param(
                    "pixel_branch", True, "pixel-level branch of the hierarchical D (Sec. III-C)"
                ),
                Param(
                    "two_phase",
                    True,
                    "plain training before the warm-up share, augmented after (Sec. III-E)",
                ),
                Param(
                    "warmup",
                    0.25,
                    "budget share of plain training when two_phase is on",
                    minimum=0.0,
                ),
                Param(
                    "alpha",
                    0.5,
                    "attention share of the mix label: λ=(1-α)λ0+αλ1 (eq. 3-4)",
                    minimum=0.0,
                ),
                Param("beta", 1.0, "weight of G's pixel-level loss (eq. 8)", minimum=0.0),
                Param("beta1", 1.0, "weight of D's pixel-level loss (eq. 7)", minimum=0.0),
                Param("beta2", 1.0, "weight of D's consistency loss (eq. 7)", minimum=0.0),
                Param(
                    "skip_decay",
                    0.99,
                    "EMA decay of the reverse-skip features used at sampling",
                    minimum=0.0,
                ),
            ),
        )
    ]
