"""The dataset contract.

A dataset plugin's factory is called as ``factory(args, ctx)`` with its resolved arguments and a
:class:`DatasetContext`, and returns a :class:`Dataset`. A dataset declares, per domain, the
modality, the units its values are in (for example Hounsfield units), the value window used to
normalise images for models and to score them, and the channel count; and whether A and B images
of a split are pairs of the same anatomy. Images are delivered in physical units; the runner
maps them to [-1, 1] through :meth:`DomainInfo.to_unit` for the model and back for the metrics.

Each item of a split is a :data:`Sample`: a dict with ``"a"`` and ``"b"`` (float tensors of shape
(C, H, W) in the domain's units) and ``"mask_a"``/``"mask_b"`` (bool tensors of shape (1, H, W),
true inside the body). For a paired dataset ``a`` and ``b`` show the same anatomy and the two
masks are equal; for an unpaired one they come from different subjects. A dataset that declares
label classes (:attr:`DatasetInfo.labels`) adds ``"label_a"``/``"label_b"``: int64 tensors of
shape (1, H, W) holding each pixel's class index (0 is the first declared class, usually the
background). Items of a volume-backed dataset also say which patient volume and slice they are
(see :mod:`medganbench.core.volumes`).

A **volume dataset** (:attr:`DatasetInfo.volume` set) delivers whole 3-D items instead: ``"a"``
and ``"b"`` of shape (C, D, H, W), masks (and label maps) of shape (1, D, H, W), every item of
the declared :class:`~medganbench.core.geometry.VolumeGeometry`. Its registration says so too
(:attr:`~medganbench.core.specs.DatasetSpec.spatial_dims` ``3``), and only models and metrics
that declare 3-D support run on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.geometry import VolumeGeometry

DomainKey = Literal["a", "b"]
Sample = dict[str, torch.Tensor]
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class DomainInfo:
    """What one image domain holds.

    Attributes:
        name: short human name, e.g. ``"T1-weighted MR"``.
        modality: ``"MR"``, ``"CT"``, ...
        units: the units of the delivered values, e.g. ``"HU"`` or ``"a.u."``.
        window: (low, high) value window. Values are clipped to it before normalisation and
            before scoring; metrics use ``high - low`` as their data range.
        channels: number of image channels.
    """

    name: str
    modality: str
    units: str
    window: tuple[float, float]
    channels: int = 1

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Map values in domain units to [-1, 1], clipping to the window first."""
        lo, hi = self.window
        return (x.clamp(lo, hi) - lo) * (2.0 / (hi - lo)) - 1.0

    def from_unit(self, y: torch.Tensor) -> torch.Tensor:
        """Map model outputs in [-1, 1] back to domain units (inverse of :meth:`to_unit`)."""
        lo, hi = self.window
        return (y.clamp(-1.0, 1.0) + 1.0) * ((hi - lo) / 2.0) + lo


@dataclass(frozen=True)
class DatasetInfo:
    """The declared facts of a dataset instance.

    Attributes:
        a: domain A (the source of the default translation direction).
        b: domain B.
        paired: whether A and B of an item show the same anatomy, in every split.
        splits: the split names this dataset provides.
        image_size: side length of the square images it delivers.
        labels: the names of the integer classes of its label maps, index by index (empty: the
            dataset has no label maps); items then carry ``label_a`` and ``label_b``.
        volume: for a volume dataset, what each item is (size, spacing, orientation); ``None``
            for a dataset of 2-D images. ``image_size`` is then the side of the run's
            ``--image-size`` grid the volume's in-plane axes follow.
    """

    a: DomainInfo
    b: DomainInfo
    paired: bool
    splits: tuple[str, ...]
    image_size: int
    labels: tuple[str, ...] = ()
    volume: VolumeGeometry | None = None

    @property
    def spatial_dims(self) -> int:
        """3 for a volume dataset, else 2: the dimensions of one item's images."""
        return 2 if self.volume is None else 3

    def domain(self, key: DomainKey) -> DomainInfo:
        """Return domain ``"a"`` or ``"b"``."""
        return self.a if key == "a" else self.b


def direction_label(direction: str, a: str, b: str, arrow: str = "→") -> str:
    """A direction named by its domains' modalities: ``"a2b"`` with ``a="MR"``, ``b="CT"`` is
    ``"MR → CT"``, the round trip ``"a2b2a"`` is ``"MR → CT → MR"``. Any other text comes back
    unchanged."""
    steps = direction.split("2")
    if len(steps) < 2 or any(step not in ("a", "b") for step in steps):
        return direction
    return f" {arrow} ".join(a if step == "a" else b for step in steps)


@dataclass(frozen=True)
class DatasetContext:
    """What the runner tells a dataset factory.

    Attributes:
        image_size: the side length every delivered image must have.
        cache_dir: a directory this dataset may use for its cache (created on demand).
        data_dir: where the user keeps this dataset's files (``--data-dir``), if given; see
            :func:`medganbench.data.dataroot.find_root` for the full lookup order.
    """

    image_size: int
    cache_dir: Path
    data_dir: Path | None = None


class Dataset(ABC):
    """A dataset instance: declared facts plus its splits."""

    info: DatasetInfo

    @abstractmethod
    def split(self, name: str) -> TorchDataset[Sample]:
        """Return the map-style dataset of one split.

        Raises:
            medganbench.errors.UsageError: ``name`` is not in ``info.splits``.
        """

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash that changes whenever the delivered data would change.

        Written on every leaderboard row, so two rows with the same dataset name but different
        files (or generator settings) are never ranked together unknowingly.
        """

    def split_sizes(self) -> dict[str, int]:
        """Number of items per split."""
        return {name: len(self.split(name)) for name in self.info.splits}  # type: ignore[arg-type]
