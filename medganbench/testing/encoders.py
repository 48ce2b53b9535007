"""The encoder contracts: declarations, build with its weights, embedding shape and type,
determinism, and features that do not depend on the batch.

An encoder with a weights artifact is built with, in order: the tensors the check is given
(Python API, ``CheckSettings(tensors=...)``: a random initialisation of the architecture is
enough for these contracts), or the artifact's file from the weights cache or
``$MEDGANBENCH_WEIGHTS_<NAME>`` (``medganbench weights install NAME --from FILE`` puts it
there). Without either, the contracts that need the network are skipped, saying how to give one.
Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from medganbench.core.encoder import Encoder, EncoderContext
from medganbench.core.specs import EncoderSpec
from medganbench.errors import MedganbenchError
from medganbench.testing.report import Contract, NotApplicable, Probe, expect
from medganbench.testing.support import check_declaration
from medganbench.weights.store import resolve_weights

#: Side of the probe images: the encoder resizes to its own input size.
PROBE_SIZE = 32
#: How far one image's features may move when it is embedded with another (float32 kernels
#: may split reductions differently per batch size).
BATCH_TOLERANCE = 1e-4


def probe_images(n: int, seed: int = 0) -> torch.Tensor:
    """uint8 RGB ``(n, 3, 32, 32)`` with some structure (a blurred random field, grey as RGB)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(
        torch.rand(n, 1, PROBE_SIZE, PROBE_SIZE, generator=g), 3, 1, 1
    )
    grey = torch.round(255 * (x - x.min()) / (x.max() - x.min())).to(torch.uint8)
    return grey.repeat(1, 3, 1, 1)


def _tensors(probe: Probe) -> tuple[Mapping[str, torch.Tensor] | None, str]:
    spec: EncoderSpec = probe.spec
    if spec.weights is None:
        return None, "no weights artifact"
    given = probe.options.get("tensors")
    if given is not None:
        return given(), "the tensors the check was given"
    try:
        resolved = resolve_weights(spec.weights, fetch=False)
    except MedganbenchError as exc:  # no file here: a reason to skip, said as such
        raise NotApplicable(
            f"no {spec.weights.name} file here: `medganbench weights install "
            f"{spec.weights.name} --from FILE` first ({type(exc).__name__})"
        ) from None
    return resolved.load(), f"{spec.weights.name} {resolved.sha256[:12]}"


def _build(probe: Probe) -> str:
    tensors, where = _tensors(probe)
    encoder = probe.spec.build(probe.args, EncoderContext(torch.device("cpu"), tensors))
    expect(isinstance(encoder, Encoder), f"the factory built a {type(encoder).__name__}")
    expect(isinstance(encoder.dim, int) and encoder.dim > 0, f"dim is {encoder.dim!r}")
    expect(str(encoder.preprocessing).strip(), "preprocessing (written on every row) is empty")
    probe.made["encoder"] = encoder
    return f"{type(encoder).__name__} ({where}), dim {encoder.dim}"


def _embed(probe: Probe) -> str:
    encoder: Encoder = probe.made["encoder"]
    images = probe_images(2)
    pair = encoder.embed(images)
    expect(isinstance(pair, torch.Tensor), f"embed returned a {type(pair).__name__}")
    expect(pair.shape == (2, encoder.dim), f"2 images gave shape {tuple(pair.shape)}")
    expect(pair.dtype == torch.float32, f"features are {pair.dtype}, not float32")
    expect(pair.device.type == "cpu", f"features are on {pair.device}, not the CPU")
    expect(bool(torch.isfinite(pair).all()), "features are not all finite")
    probe.made["pair"] = pair
    return f"uint8 (2, 3, {PROBE_SIZE}, {PROBE_SIZE}) → float32 (2, {encoder.dim}), finite"


def _determinism(probe: Probe) -> str:
    encoder: Encoder = probe.made["encoder"]
    again = encoder.embed(probe_images(2))
    expect(torch.equal(again, probe.made["pair"]), "the same images gave different features")
    return "the same images give the same features"


def _batch_invariance(probe: Probe) -> str:
    encoder: Encoder = probe.made["encoder"]
    alone = encoder.embed(probe_images(2)[:1])
    moved = float((alone - probe.made["pair"][:1]).abs().max())
    expect(
        moved <= BATCH_TOLERANCE * max(1.0, float(alone.abs().max())),
        f"an image's features moved by {moved:.3g} when embedded alone instead of in a batch",
    )
    return f"alone vs in a batch of 2: max difference {moved:.2g}"


CONTRACTS: tuple[Contract, ...] = (
    Contract("declares", "a version, parameters with help and valid defaults", check_declaration),
    Contract("build", "the factory builds an Encoder with dim and preprocessing", _build),
    Contract(
        "embed", "uint8 RGB (N, 3, H, W) → finite float32 (N, dim) on the CPU", _embed, ("build",)
    ),
    Contract("determinism", "the same images give the same features", _determinism, ("embed",)),
    Contract(
        "batch-invariance", "features do not depend on the batch", _batch_invariance, ("embed",)
    ),
)

__all__ = ["CONTRACTS", "probe_images"]
