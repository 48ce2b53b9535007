"""Weight initialisation of the built-in GANs: the N(0, 0.02) rule of DCGAN, pix2pix and CycleGAN.

The rule, as the reference implementation of CycleGAN and pix2pix applies it
(``init_weights(net, init_type="normal", init_gain=0.02)`` in junyanz/pytorch-CycleGAN-and-pix2pix,
``models/networks.py``) and DCGAN states it (Radford et al. 2016, Sec. 4):

- every convolution, transposed convolution and linear layer: weight ~ N(0, 0.02), bias = 0;
- every :class:`torch.nn.BatchNorm2d`: weight (scale) ~ N(1, 0.02), bias = 0;
- every other layer keeps its constructor's values. For the norms used here that is weight 1
  and bias 0 (group/layer norm, switchable norm, whose IN/LN/BN mixing logits also stay at 1);
  instance norm has no parameters.

The draws come from torch's global RNG, module by module in definition order
(:meth:`torch.nn.Module.apply` visits children before their parent), so a seeded run builds the
same networks every time.
"""

from __future__ import annotations

from torch import nn

#: Standard deviation of the normal weights (``init_gain`` of the reference).
INIT_GAIN = 0.02

#: Layers whose weight is drawn from N(0, gain) and whose bias is zeroed.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)


def init_module(
    module: nn.Module,
    gain: float = INIT_GAIN,
    scaled_norms: tuple[type[nn.Module], ...] = (nn.BatchNorm2d,),
) -> nn.Module:
    """Initialise one layer in place by the rule above (its children are left alone).

    Args:
        module: the layer.
        gain: standard deviation of the normal draws.
        scaled_norms: norm layers whose scale is drawn from N(1, gain) and bias zeroed; the
            reference's rule names only BatchNorm2d. DCGAN-style networks that use group norm
            in its place pass it here too.

    Returns:
        ``module``, so a constructor can wrap a layer in the call.
    """
    if isinstance(module, WEIGHT_LAYERS):
        nn.init.normal_(module.weight, 0.0, gain)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, scaled_norms) and getattr(module, "weight", None) is not None:
        nn.init.normal_(module.weight, 1.0, gain)
        nn.init.zeros_(module.bias)
    return module


def init_weights(net: nn.Module, gain: float = INIT_GAIN) -> nn.Module:
    """Initialise every layer of ``net`` in place by the reference's rule; returns ``net``."""
    net.apply(lambda m: init_module(m, gain))
    return net
