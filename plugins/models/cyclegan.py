"""The ``cyclegan`` model: CycleGAN (Zhu, Park, Isola & Efros, ICCV 2017).

Defaults follow the paper and its reference setup (Sec. 4 and Appendix 7.2):

- generator: ResNet with reflection padding and instance norm, 7×7 stem, two stride-2
  convolutions, 9 residual blocks at 256 px and above, 6 below (``n_blocks=0``), two transposed
  convolutions and tanh; 64 filters (about 11.37 M parameters for one-channel images at 9 blocks);
- discriminator: 70×70 PatchGAN (three stride-2 4×4 convolutions from 64 filters);
- losses: least-squares GAN, cycle λ = 10, identity 0.5·λ = 5;
- a history pool of 50 generated images for the discriminators;
- Adam (lr 2e-4, β1 = 0.5), constant for the first half of the budget, then decayed linearly
  to zero (the paper's 100 + 100 epochs, expressed against the budget).

Batch size 1 as in the paper. All of it is an argument; the ablation switches ``loss``,
``norm`` and ``optimizer`` are shared with ``hlsnc`` (see :mod:`medganbench_plugins.models.cycle`).
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import ModelSpec
from medganbench_plugins.models.cycle import CycleModel, cycle_params


class CycleGAN(CycleModel):
    """CycleGAN; behaviour is entirely in :class:`CycleModel` and the declared defaults."""


@hookimpl
def medganbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="cyclegan",
            summary="CycleGAN (Zhu et al. 2017): ResNet generators, PatchGAN, LSGAN + cycle + identity, Adam.",
            version="3",
            factory="medganbench_plugins.models.cyclegan:CycleGAN",
            params=cycle_params(
                loss="lsgan",
                norm="instance",
                optimizer="adam",
                n_blocks=0,
                stem_kernel=7,
                gp_weight=0.0,
                lr_schedule="linear-decay",
                norm_eps=1e-5,
            ),
        )
    ]
