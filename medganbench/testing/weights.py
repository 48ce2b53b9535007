"""The weights-artifact contracts: declarations, converters, and (given the file) loading.

Nothing is downloaded: ``loads`` needs the raw file, given to the check (``--weights-file``)
or already in the verified cache, and is skipped without one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from medganbench.core.specs import WeightsSpec, import_ref
from medganbench.testing.report import Contract, NotApplicable, Probe, expect
from medganbench.weights.store import cached

_HEX = set("0123456789abcdef")
#: The shortest sha256 prefix a source may pin (torch.hub's file names carry 8 digits).
MIN_PIN = 8


def _declares(probe: Probe) -> str:
    spec: WeightsSpec = probe.spec
    expect(spec.summary.strip(), "the summary is empty")
    expect(spec.sources, "no sources: nothing says where the file comes from")
    for source in spec.sources:
        pin = source.pinned_sha256
        expect(
            MIN_PIN <= len(pin) <= 64 and set(pin) <= _HEX,
            f"source {source.label!r} pins {pin!r}, not a sha256 (or a prefix of >= {MIN_PIN})",
        )
        expect(source.label.strip() and source.manual_hint.strip(), "a source has no label or hint")
    return f"{len(spec.sources)} source(s), each pinning a sha256"


def _converters(probe: Probe) -> str:
    spec: WeightsSpec = probe.spec
    for source in spec.sources:
        expect(callable(import_ref(source.convert, spec.name)), f"{source.convert} is not callable")
    return "every source's converter imports"


def _loads(probe: Probe) -> str:
    spec: WeightsSpec = probe.spec
    given = probe.options.get("weights_file")
    if given is not None:
        path = Path(given)
        accepting = [s for s in spec.sources if s.read_verified(path) is not None]
        expect(accepting, f"{path.name} matches no source's pinned sha256")
        tensors = import_ref(accepting[0].convert, spec.name)(path)
        where = path.name
    else:
        resolved = cached(spec)
        if resolved is None:
            raise NotApplicable(
                "no file: pass --weights-file FILE, or `medganbench weights install "
                f"{spec.name} --from FILE` first"
            )
        tensors, where = resolved.load(), "the cached file"
    expect(isinstance(tensors, dict) and tensors, "the converter returned no dict of tensors")
    for key, value in tensors.items():
        expect(
            isinstance(key, str) and isinstance(value, torch.Tensor),
            f"entry {key!r} is a {type(value).__name__}, not a tensor named by a string",
        )
    return f"{where} converts to {len(tensors)} tensor(s)"


CONTRACTS: tuple[Contract, ...] = (
    Contract("declares", "a summary and sources that each pin a sha256", _declares),
    Contract("converters", "each source's converter imports and is callable", _converters),
    Contract("loads", "the verified file converts to a dict of tensors", _loads, ("converters",)),
)

__all__ = ["CONTRACTS"]
