"""Encoders as the distribution metrics use them: chosen by name, built once per process with
their verified weights, and memoised per batch.

FID and KID of one evaluation see the same generated batches; the memo (keyed by the batch's
bytes) lets the second metric reuse the first one's features instead of running the network
twice. One encoder is built per (name, version, weights sha256, device) in a process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.core.metric import MetricContext
from medganbench.core.specs import EncoderSpec
from medganbench.errors import UnknownNameError
from medganbench.weights.store import ResolvedWeights
from medganbench_plugins.metrics.encoders import ENCODERS, builtin_encoder

#: How every encoder's input is made from physical values (each encoder then resizes and
#: normalises; the Inception one inside torch-fidelity, see ``inception.QUANTISATION``).
WINDOW_QUANTISATION = "uint8 = round(255*(clip(x,lo,hi)-lo)/(hi-lo)), gray repeated to RGB"

#: The encoder of ``fid`` and the default of ``kid``, ``precision``, ``recall``, ``density``
#: and ``coverage``.
INCEPTION = "inception"


def encoder_spec(name: str, ctx: MetricContext) -> EncoderSpec:
    """The encoder registered as ``name`` (the run's registry, else the built-in ones).

    Raises:
        UnknownNameError: no such encoder.
    """
    spec = ctx.encoders.get(name) or builtin_encoder(name)
    if spec is None:
        known = sorted(set(ctx.encoders) | {e.name for e in ENCODERS})
        raise UnknownNameError(
            f"No encoder named {name!r}.", hint=f"Registered encoders: {', '.join(known)}"
        )
    return spec


class MemoEncoder:
    """An encoder with a small memo of its last batches (see the module docstring)."""

    MEMO_SIZE = 64

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._memo: OrderedDict[str, torch.Tensor] = OrderedDict()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) → float32 (N, dim) on the CPU."""
        key = hashlib.sha256(images.cpu().numpy().tobytes()).hexdigest() + str(tuple(images.shape))
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        features = self.encoder.embed(images)
        self._memo[key] = features
        if len(self._memo) > self.MEMO_SIZE:
            self._memo.popitem(last=False)
        return features


_SHARED: dict[tuple[str, str, str, str], MemoEncoder] = {}


def shared_encoder(
    spec: EncoderSpec, weights: ResolvedWeights | None, device: torch.device
) -> MemoEncoder:
    """One built encoder per (name, version, weights sha256, device) in this process.

    Raises:
        WeightsError: the weights cannot be read or do not fit the network.
        PluginError: the factory does not build an :class:`~medganbench.core.encoder.Encoder`.
    """
    key = (spec.name, spec.version, weights.sha256 if weights else "", str(device))
    if key not in _SHARED:
        ctx = EncoderContext(device, weights.load() if weights is not None else None)
        _SHARED[key] = MemoEncoder(spec.build({}, ctx))
    return _SHARED[key]
