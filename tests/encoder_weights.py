"""Weights for the built-in encoders without downloading: timm's own random initialisation of
each architecture, or seeded N(0, 0.02²) tensors of its shapes (cheaper for a ViT-B). Enough for
shapes, determinism and batch-size invariance; the real weights are never needed here.
"""

from __future__ import annotations

from collections.abc import Mapping

import timm
import torch

from medganbench.core.specs import EncoderSpec
from medganbench.weights.store import resolve_weights
from medganbench_plugins.metrics.inception import FID_INCEPTION
from medganbench_plugins.metrics.timm_encoders import TimmEncoder

_RANDOM: dict[tuple[str, str], dict[str, torch.Tensor]] = {}


def random_timm(encoder_cls: type[TimmEncoder], **kwargs: object) -> dict[str, torch.Tensor]:
    """timm's own random initialisation of the architecture (once per process: ViT-B costs)."""
    key = (encoder_cls.model_name, repr(sorted(kwargs.items())))
    if key not in _RANDOM:
        torch.manual_seed(0)
        net = timm.create_model(encoder_cls.model_name, pretrained=False, num_classes=0, **kwargs)  # type: ignore[arg-type]
        _RANDOM[key] = {k: v.contiguous() for k, v in net.state_dict().items()}
    return _RANDOM[key]


def random_tensors(encoder_cls: type[TimmEncoder], **kwargs: object) -> dict[str, torch.Tensor]:
    """Seeded N(0, 0.02²) tensors of the architecture's shapes."""
    with torch.device("meta"):
        net = timm.create_model(encoder_cls.model_name, pretrained=False, num_classes=0, **kwargs)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(0)
    out = {}
    for k, v in net.state_dict().items():
        if k.endswith("running_var"):  # a batch norm's variance must be positive
            out[k] = torch.ones(v.shape)
        elif v.is_floating_point():
            out[k] = 0.02 * torch.randn(v.shape, generator=g)
        else:
            out[k] = torch.zeros(v.shape, dtype=v.dtype)
    return out


def tensors_for(spec: EncoderSpec) -> Mapping[str, torch.Tensor] | None:
    """Weights a built-in encoder can be built with: the real Inception trunk (the tests'
    weights cache has it), else random tensors in the published layout (DINOv2: 518 px position
    embeddings, as the hub files hold them).

    Raises:
        LookupError: an encoder this helper knows no weights for.
    """
    if spec.weights is None:
        return None
    if spec.weights is FID_INCEPTION:
        return resolve_weights(FID_INCEPTION).load()
    factory = spec.load()
    if isinstance(factory, type) and issubclass(factory, TimmEncoder):
        return random_tensors(
            factory, **({"img_size": 518} if "img_size" in factory.create_kwargs else {})
        )
    raise LookupError(f"no random weights known for the encoder {spec.name!r}")
