"""Values in physical units: domains, windows, MR normalisation and body masks.

CT is delivered in Hounsfield units and clipped to a window for the models; MR has no physical
scale, so each volume is scaled to [0, 1] on its own (:func:`percentile_normalise`). A pixel is
"body" when it is brighter than 5 % of the window above its floor (:func:`body_mask`): air and
background are dark in every modality here.
"""

from __future__ import annotations

import numpy as np
import torch

from medganbench.core.dataset import DomainInfo
from medganbench.errors import UsageError

#: Default CT window in HU (air to dense bone).
CT_WINDOW: tuple[float, float] = (-1024.0, 3000.0)
#: MR is delivered normalised to this window.
MR_WINDOW: tuple[float, float] = (0.0, 1.0)
#: A pixel is body when it exceeds this fraction of the window above the window's floor.
BODY_FRACTION = 0.05


def mr_domain(name: str = "MR") -> DomainInfo:
    """An MR domain normalised to [0, 1] (arbitrary units)."""
    return DomainInfo(name=name, modality="MR", units="a.u.", window=MR_WINDOW, channels=1)


def ct_domain(window: tuple[float, float] = CT_WINDOW, name: str = "CT") -> DomainInfo:
    """A CT domain in Hounsfield units (``name``: e.g. ``"CBCT"``, whose modality it becomes)."""
    return DomainInfo(name=name, modality=name, units="HU", window=window, channels=1)


def domain_for(modality: str, window: str, owner: str, name: str = "") -> DomainInfo:
    """The domain of a modality named by the user: MR normalised, CT/CBCT in HU (``window``:
    ``"lo:hi"``, empty for :data:`CT_WINDOW`)."""
    if modality == "MR":
        return mr_domain(name or "MR")
    return ct_domain(parse_window(window, "window", owner, CT_WINDOW), modality)


def percentile_normalise(volume: np.ndarray, percentile: float) -> np.ndarray:
    """Scale a volume to [0, 1]: its minimum (0th percentile) → 0, its ``percentile``-th → 1.

    MR intensities have no physical scale, so each volume is normalised on its own; values
    above the percentile (a few bright voxels) clip to 1.

    Returns:
        float32 array, same shape and memory layout, values in [0, 1]; all zeros for a constant
        volume.
    """
    lo = float(np.min(volume)) if volume.size else 0.0
    hi = float(np.percentile(volume, percentile)) if volume.size else 0.0
    if hi <= lo:
        return np.zeros_like(volume, dtype=np.float32)
    return np.clip((volume - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def to_units(volume: np.ndarray, domain: DomainInfo, percentile: float) -> np.ndarray:
    """Values in the domain's delivered units: HU as read; anything else scaled per volume to
    [0, 1] by :func:`percentile_normalise`."""
    if domain.units == "HU":
        return volume.astype(np.float32, copy=False)
    return percentile_normalise(volume, percentile)


def body_mask(
    images: torch.Tensor, window: tuple[float, float], fraction: float = BODY_FRACTION
) -> torch.Tensor:
    """Pixels brighter than ``fraction`` of the window above its floor (air/background is dark).

    Args:
        images: (N, C, H, W) in physical units.
        window: the domain's (lo, hi).

    Returns:
        bool (N, 1, H, W); true where any channel is above the threshold.
    """
    lo, hi = window
    return (images > lo + fraction * (hi - lo)).any(dim=1, keepdim=True)


def parse_window(
    text: str, name: str, owner: str, default: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Parse ``"lo:hi"`` (``,`` and ``;`` are accepted too); empty text gives ``default``.

    ``:`` is the form to use on the command line, where ``,`` separates arguments.

    Raises:
        UsageError: not two numbers with ``lo < hi`` (or empty without a default).
    """
    if not text.strip() and default is not None:
        return default
    parts = text.replace(",", ":").replace(";", ":").split(":")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"{owner}: {name}={text!r} is not 'lo:hi'.", hint=f"Example: {name}=-1024:3000"
        ) from None
    if not lo < hi:
        raise UsageError(f"{owner}: {name}={text!r} needs lo < hi.")
    return lo, hi


def check_percentile(value: float, owner: str) -> float:
    """``value`` if it is a percentile in (0, 100].

    Raises:
        UsageError: outside that range.
    """
    if not 0.0 < value <= 100.0:
        raise UsageError(f"{owner}: percentile {value} must be in (0, 100].")
    return value


__all__ = [
    "BODY_FRACTION",
    "CT_WINDOW",
    "MR_WINDOW",
    "body_mask",
    "check_percentile",
    "ct_domain",
    "domain_for",
    "mr_domain",
    "parse_window",
    "percentile_normalise",
    "to_units",
]
