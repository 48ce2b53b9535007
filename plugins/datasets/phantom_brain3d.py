"""The ``phantom-brain-3d`` dataset: procedurally generated paired MR/CT head volumes.

The 3-D variant of the embedded ``phantom-brain`` dataset, for volume tasks with nothing to
download. Each item is one subject's whole head rendered as a cube of ``--image-size``³ voxels
(see :mod:`medganbench_plugins.datasets.phantom_volume`): MR (domain A, T1- or T2-weighted,
arbitrary units) and CT (domain B, Hounsfield units) of the same anatomy, exactly aligned, with
body masks and tissue label maps (:data:`LABELS`). The anatomy, tissues and physics are the 2-D
phantom's, and subject ``i`` of a split and seed is the same head as the 2-D dataset's subject
``i`` of that split and seed.

Every item has the declared geometry (:func:`geometry`): ``size³`` voxels,
``200 mm / size`` apart on every axis, array axes (D, H, W) oriented ``"SPL"`` (D inferior →
superior, H anterior → posterior, W the patient's right → left: axial planes displayed as
radiologists view them), the whole head resampled to the cube.

Splits are made by subject, and every subject's random stream is keyed by ``(seed, split,
subject index)``: changing the number of training subjects leaves the validation and test
subjects untouched. Each subject is one volume for per-patient evaluation; an item says its
subject (``volume``) and, as whole volumes do, axial start 0 (``slice``).

The data are a pure function of the arguments and the image size, so they are generated once and
cached (:func:`medganbench.data.cached`) under a key holding the hash of both, which
:meth:`PhantomBrain3D.fingerprint` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medganbench import progress
from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data import DomainSlices, SliceSplit, dataset_hook
from medganbench.errors import UsageError
from medganbench_plugins.datasets.phantom_brain import LABELS
from medganbench_plugins.datasets.phantom_dataset import (
    CT_DOMAIN,
    PhantomDataset,
    mr_domain,
    sides,
    subject_entropy,
)
from medganbench_plugins.datasets.phantom_tissues import SEQUENCES
from medganbench_plugins.datasets.phantom_volume import (
    ORIENTATION,
    SubjectVolume,
    render_subject_volume,
    voxel_spacing_mm,
)

log = logging.getLogger(__name__)

NAME = "phantom-brain-3d"
#: Bump whenever the generated data could change (it is part of the cache key and fingerprint).
VERSION = "1"
#: Smallest supported cube side: below this a head is a handful of voxels (as in 2-D).
MIN_IMAGE_SIZE = 16
#: Largest supported cube side: at 128³ one subject takes about 3 s to render (0.45 GB at its
#: peak) and the default dataset holds 0.6 GB in memory and as much in its cache file; all of it
#: grows with the cube of the side.
MAX_IMAGE_SIZE = 128

PARAMS: tuple[Param, ...] = (
    Param("train_subjects", 16, "number of training subjects (volumes)", minimum=2),
    Param("val_subjects", 4, "number of validation subjects (volumes)", minimum=2),
    Param("test_subjects", 4, "number of test subjects (volumes)", minimum=2),
    Param("seed", 0, "random seed of the generator; a different seed gives different subjects"),
    Param("weighting", "t1", "MR weighting of domain A", choices=tuple(SEQUENCES)),
    Param(
        "paired",
        True,
        "A and B of an item show the same head; false draws A and B from disjoint subject "
        "halves in every split",
    ),
)


def is_paired(args: Mapping[str, Any]) -> bool:
    """Paired unless ``paired=false``."""
    return bool(args["paired"])


SPEC = DatasetSpec(
    name=NAME,
    summary="Procedural paired MR (T1/T2) → CT (HU) head volumes with tissue labels; the 3-D "
    "phantom-brain; no download, cached.",
    version=VERSION,
    factory="medganbench_plugins.datasets.phantom_brain3d:PhantomBrain3D",
    params=PARAMS,
    modality="MR (T1/T2) → CT",
    pairing="paired (paired=false: unpaired)",
    paired=is_paired,
    modalities=("MR", "CT"),
    size="24 head volumes of --image-size³ by default",
    spatial_dims=3,
    image_size=32,
)
medganbench_datasets = dataset_hook(SPEC)


def geometry(size: int) -> VolumeGeometry:
    """The geometry of every item at cube side ``size``: isotropic voxels over the phantom's
    200 mm field of view, oriented as its axial slices are displayed."""
    spacing = voxel_spacing_mm(size)
    return VolumeGeometry(
        size=(size, size, size),
        spacing=(spacing, spacing, spacing),
        orientation=ORIENTATION,
        crop=f"whole head resampled to {size}³",
    )


@dataclass(frozen=True)
class _Settings:
    """The typed arguments, read once from the resolved mapping."""

    subjects: dict[str, int]
    seed: int
    weighting: str
    paired: bool

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> _Settings:
        return cls(
            subjects={name: int(args[f"{name}_subjects"]) for name in SPLITS},
            seed=int(args["seed"]),
            weighting=str(args["weighting"]),
            paired=bool(args["paired"]),
        )


class PhantomBrain3D(PhantomDataset):
    """The ``phantom-brain-3d`` dataset instance.

    Data are produced on first use (the first :meth:`split` call): loaded from the cache if it
    holds them, else generated and cached.

    Attributes:
        info: the declared domains, pairing, splits, cube side, label classes and geometry.
        args: the resolved arguments (every declared key, typed).
        cache_path: the cache file of these arguments and size.
        generated: ``None`` until the data are first needed; then ``True`` if this instance
            generated them, ``False`` if it loaded them from the cache.
    """

    name = NAME

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        """Resolve arguments and declare the dataset; generation is deferred.

        Raises:
            UsageError: an argument is unknown or invalid, or the size is out of range.
        """
        self.args: dict[str, Any] = resolve_args(PARAMS, args, NAME)
        size = int(ctx.image_size)
        if not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
            raise UsageError(
                f"{NAME}: image size {size} is out of range (the volumes are {size}³ voxels).",
                hint=f"Use an image size from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}.",
            )
        self._settings = _Settings.from_args(self.args)
        info = DatasetInfo(
            mr_domain(self._settings.weighting),
            CT_DOMAIN,
            self._settings.paired,
            SPLITS,
            size,
            LABELS,
            volume=geometry(size),
        )
        self.declare(info, VERSION, size, ctx.cache_dir)

    def _serve(self, payload: Mapping[str, Any]) -> SliceSplit:
        """A split from its cached sides: item ``i`` is subject ``i``'s volume."""
        return SliceSplit(_volumes(payload["a"]), _volumes(payload["b"]), self.info.paired)

    def _generate(self) -> dict[str, Any]:
        log.info("Generating %s (%s) at %d³.", NAME, self._fingerprint, self._size)
        total = sum(self._settings.subjects.values())
        label = f"generating {NAME} at {self._size}³"
        with progress.phase(label, total=total, unit="subjects") as shown:
            return {name: self._generate_split(name, shown) for name in self.info.splits}

    def _generate_split(self, name: str, shown: progress.Phase) -> dict[str, Any]:
        """Render every subject of one split: MR side and CT side with subject ids."""
        s = self._settings
        pairs = []
        for i in range(s.subjects[name]):
            entropy = subject_entropy(s.seed, name, i)
            pairs.append(
                (f"{name}-{i:03d}", render_subject_volume(entropy, self._size, s.weighting))
            )
            shown.advance()
        a_side, b_side = sides(pairs, s.paired)
        return {"a": _side(a_side, "mr"), "b": _side(b_side, "ct")}


def _side(side: Sequence[tuple[str, SubjectVolume]], modality: str) -> dict[str, Any]:
    """One modality's volumes of some subjects, stacked (n, 1, D, H, W): images, masks, labels,
    subject ids."""
    images = np.stack([getattr(v, modality) for _, v in side])
    return {
        "images": torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1),
        "mask": torch.from_numpy(np.stack([v.mask for _, v in side])).unsqueeze(1),
        "labels": torch.from_numpy(np.stack([v.labels for _, v in side])).unsqueeze(1),
        "subjects": [sid for sid, _ in side],
    }


def _volumes(side: Mapping[str, Any]) -> DomainSlices:
    """A side as served: item ``i`` is subject ``i``'s whole volume (axial start 0)."""
    n = int(side["images"].shape[0])
    return DomainSlices(
        images=side["images"],
        mask=side["mask"],
        labels=side["labels"],
        volume=torch.arange(n, dtype=torch.int64),
        slice=torch.zeros(n, dtype=torch.int64),
        ids=tuple(str(s) for s in side["subjects"]),
    )


__all__ = [
    "LABELS",
    "MAX_IMAGE_SIZE",
    "MIN_IMAGE_SIZE",
    "NAME",
    "PARAMS",
    "VERSION",
    "PhantomBrain3D",
    "geometry",
    "medganbench_datasets",
]
