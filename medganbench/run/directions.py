"""How a run makes the outputs of an evaluation direction: ``a2b``/``b2a`` translate once, the
round trips ``a2b2a``/``b2a2b`` there and back; whole volumes window by window; and the names
of a direction's metric artifacts."""

from __future__ import annotations

import torch

from medganbench.core.dataset import DatasetInfo, DomainKey
from medganbench.core.model import Model
from medganbench.core.names import is_file_stem
from medganbench.errors import RunError
from medganbench.run.volume_slices import SLICE_PLANE
from medganbench.run.windows import translate_by_windows

#: Every direction a model may ask to be evaluated in.
DIRECTIONS: tuple[str, ...] = ("a2b", "b2a", "a2b2a", "b2a2b")


def is_cycle(direction: str) -> bool:
    """``"a2b2a"`` / ``"b2a2b"``: translate there and back, compare with the input."""
    return direction in ("a2b2a", "b2a2b")


def compared_domain(direction: str) -> DomainKey:
    """The domain a direction's outputs are compared with: its end, or its start for a cycle."""
    return "a" if direction[-1] == "a" else "b"


def translate_items(
    model: Model, source: torch.Tensor, direction: str, info: DatasetInfo
) -> torch.Tensor:
    """:func:`translate`, window by window along the axial axis where the dataset's evaluation
    items are whole volumes longer than its training crops (:mod:`medganbench.run.windows`)."""
    geometry = info.volume
    if geometry is None or not geometry.whole_volumes:
        return translate(model, source, direction)
    axis = geometry.plane_axis(SLICE_PLANE)
    return translate_by_windows(
        lambda x: translate(model, x, direction), source, geometry.size[axis], axis
    )


def translate(model: Model, source: torch.Tensor, direction: str) -> torch.Tensor:
    """One translation, or there and back for a cycle direction (``"a2b2a"``: a2b, then b2a)."""
    if not is_cycle(direction):
        return model.translate(source, direction)
    there, back = direction[:3], direction[2:]
    return model.translate(model.translate(source, there), back)


def artifact_name(name: str, direction: str, primary: str) -> str:
    """``nearest.png`` in the primary direction, ``nearest-b2a.png`` in another.

    Raises:
        RunError: ``name`` is not a plain file name (a metric cannot write outside the run folder).
    """
    if not is_file_stem(name):
        raise RunError(f"A metric named its artifact {name!r}, which is not a plain file name.")
    if direction == primary:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}-{direction}{dot}{suffix}"
