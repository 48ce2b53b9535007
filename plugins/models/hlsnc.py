"""The ``hlsnc`` model: HLSNC-GAN (CycleGAN with hinge loss, switchable normalization and RMSprop).

Source: "HLSNC-GAN: Medical Image Synthesis Using Hinge Loss and Switchable Normalization in
CycleGAN" (``../shared/papers/000_*``), Sec. III (Tables 2–4, eq. 5–11) and Sec. IV-D.

What is taken as stated:

- two ResNet generators (Table 2): stem convolution, two stride-2 3×3 convolutions (64 → 128 →
  256 filters), 9 residual blocks of two 3×3 convolutions with norm and ReLU (Table 3), two
  stride-2 transposed convolutions, an output convolution and tanh;
- two discriminators of Conv2d–norm–LeakyReLU layers with 4×4 kernels ending in a patch map
  (Table 4: 64, 128, 256, 512 filters, a 30×30 map at 256 px, i.e. the 70×70 PatchGAN);
- Switchable Normalization in generators and discriminators (Sec. III-F), implemented after
  Luo et al. 2019 (:class:`~medganbench_plugins.nn.norms.SwitchableNorm2d`);
- hinge adversarial losses (eq. 5 for the discriminators, eq. 6 for the generators);
- RMSprop with decay 0.9 and ε = 1e-8 (eq. 8–11), learning rate 2e-4, batch size 1
  (Sec. IV-D), with a constant learning rate (no schedule is mentioned).

Where the paper is ambiguous or inconsistent, one reading is chosen and exposed as an argument:

- ``lambda_cycle`` = 10, ``lambda_identity`` = 5. Sec. IV-D sets "the λ value to 0.01", and
  eq. 7 applies one λ to the cycle, identity and both hinge terms. Read literally, the cycle
  constraint would weigh 1000× less than in the CycleGAN the paper builds on and the mapping
  would be unconstrained, so eq. 7's adversarial terms are read as the hinge losses of eq. 5–6
  and the cycle and identity weights are CycleGAN's. Pass ``lambda_cycle=0.01
  lambda_identity=0.01`` for the literal reading.
- ``gp_weight`` = 0.01: the "weakened gradient penalty" (Sec. I, III-A) is a WGAN-GP penalty
  on the discriminators with weight 0.01 instead of WGAN-GP's 10 — the one place where the
  paper's 0.01 gives a weak, well-defined term.
- ``stem_kernel`` = 5: Table 2's first and last convolutions are 5×5 "valid", which would
  shrink 256 px to 252 px while the table's output is 256 px; the 5×5 kernel is kept with
  reflection padding so sizes are preserved (Sec. IV-D's "7×7 and 3×3" is ``stem_kernel=7``).
- the discriminators see one-channel images: Table 4 lists a 2-channel input, but in unpaired
  training a real CT has no partner MR to stack with it, so a conditional input cannot be
  formed; the output is raw logits (Table 4's sigmoid is dropped, since hinge losses act on
  unbounded scores). This reading is fixed, not an argument.
- ``norm_eps`` = 1e-5: Sec. IV-D adds ε = 1e-8 in the normalization layers; at batch size 1
  with near-constant background regions that amplifies noise by up to 10⁴, so PyTorch's
  1e-5 is the default and ``norm_eps=1e-8`` gives the paper's value.
- ``n_blocks`` = 9 at every image size (Table 2 and Sec. IV-D).

The paper's ablation grid (Tables 5 and 6) is :data:`TABLE5_ABLATION`.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.cycle import CycleModel, cycle_params

#: HLSNC-GAN Table 5 (MR→CT) and Table 6 (CT→MR): label → model arguments of ``hlsnc``.
#: "SN+RMSprop" names no loss; it is read as the plain GAN loss of eq. 1–2 (``bce``).
#: "Wgan" is read as WGAN-GP, since the paper discusses gradient penalties throughout.
TABLE5_ABLATION: dict[str, dict[str, str]] = {
    "Hinge+IN+RMSprop": {"loss": "hinge", "norm": "instance", "optimizer": "rmsprop"},
    "Lsgan+SN+RMSprop": {"loss": "lsgan", "norm": "switchable", "optimizer": "rmsprop"},
    "SN+RMSprop": {"loss": "bce", "norm": "switchable", "optimizer": "rmsprop"},
    "Hinge+LN+RMSprop": {"loss": "hinge", "norm": "layer", "optimizer": "rmsprop"},
    "Hinge+SN+Adam": {"loss": "hinge", "norm": "switchable", "optimizer": "adam"},
    "Wgan+SN+RMSprop": {"loss": "wgan-gp", "norm": "switchable", "optimizer": "rmsprop"},
    "Hinge+SN+SGD": {"loss": "hinge", "norm": "switchable", "optimizer": "sgd"},
    "Hinge+BN+RMSprop": {"loss": "hinge", "norm": "batch", "optimizer": "rmsprop"},
    "HLSNC-GAN": {"loss": "hinge", "norm": "switchable", "optimizer": "rmsprop"},
}


class HLSNCGAN(CycleModel):
    """HLSNC-GAN; behaviour is entirely in :class:`CycleModel` and the declared defaults."""


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="hlsnc",
            summary="HLSNC-GAN: CycleGAN with hinge loss, switchable normalization and RMSprop.",
            version="3",
            factory="medganbench_plugins.models.hlsnc:HLSNCGAN",
            params=cycle_params(
                loss="hinge",
                norm="switchable",
                optimizer="rmsprop",
                n_blocks=9,
                stem_kernel=5,
                gp_weight=0.01,
                lr_schedule="constant",
                norm_eps=1e-5,
            ),
        )
    ]
