"""Patients: where a patient's files are, and how they become slices.

A dataset descriptor lists its :class:`Patient` records (files per domain, an optional body
mask and label map). :func:`cut_patient` checks one patient's volumes against each other and
cuts them into delivered slices; :func:`read_patients` does that for every patient under the
strict/lenient policy, producing the payload the slice cache stores. Every slice keeps its
patient's key, its volume key and its index along the slice axis, so splits are made by patient
and translated slices can be put back together per volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medganbench import progress
from medganbench.core.dataset import DomainInfo
from medganbench.data.files import LINKED_OUTSIDE, outside_root
from medganbench.data.intensity import body_mask, to_units
from medganbench.data.problems import DataFileError, InputProblems
from medganbench.data.reader import read_volume
from medganbench.data.slicing import square_labels, square_mask, square_stack
from medganbench.data.volume import Volume

#: Relative tolerance on voxel spacings that must agree inside a patient.
SPACING_TOLERANCE = 1e-3

#: A volume's source: a file, a DICOM series folder, or the files of one DICOM series.
Source = Path | tuple[Path, ...]


@dataclass(frozen=True)
class Patient:
    """Where one patient's (or one volume's) files are.

    Attributes:
        key: the volume id: a public case name, or an anonymous hash where names could identify
            someone. Each delivered slice carries it.
        where: the folder (or file) relative to the data root, named in messages.
        images: domain key (``"a"``, ``"b"``) → its volume's source.
        mask: the body-mask volume (nonzero inside), if the dataset has one; else the mask is
            derived from the images (:func:`~medganbench.data.intensity.body_mask`).
        labels: the label-map volume (integer classes), if any.
        group: the split unit (a patient with several volumes keeps them in one split);
            empty: ``key``.
        volume_index: for 4-D NIfTI files, the volume along the 4th axis (-1: 3-D files).
    """

    key: str
    where: str
    images: Mapping[str, Source]
    mask: Path | None = None
    labels: Path | None = None
    group: str = ""
    volume_index: int = -1

    @property
    def split_group(self) -> str:
        """The id splits are made by."""
        return self.group or self.key

    def files(self) -> list[Path]:
        """Every existing file this patient reads (a DICOM folder's files), for fingerprints."""
        from medganbench.data.dicom import list_dicom_files
        from medganbench.data.itk import detached_data_file

        out: list[Path] = []
        for source in (*self.images.values(), self.mask, self.labels):
            if isinstance(source, tuple):
                out += source
            elif source is not None and source.is_dir():
                out += list_dicom_files(source)[0]
            elif source is not None and source.is_file():
                out.append(source)
                # A detached header's voxels are in another file: its bytes count too.
                if (data := detached_data_file(source)) is not None:
                    out.append(data)
        return out


@dataclass(frozen=True)
class CutSettings:
    """How volumes become slices.

    Attributes:
        size: ``--image-size``.
        axis: the array axis slices are taken across.
        percentile: MR: the per-volume percentile mapped to 1.0.
        skip_empty: leave out slices whose delivered mask is empty.
        label_values: raw label value → class index (``None``: values are class indices).
        classes: the number of declared label classes (values must be below it).
    """

    size: int
    axis: int = 2
    percentile: float = 99.5
    skip_empty: bool = True
    label_values: Mapping[int, int] | None = None
    classes: int = 0


@dataclass(frozen=True)
class PatientSlices:
    """The delivered slices of one patient.

    Attributes:
        images: per domain key, (n, 1, S, S) float32 slices in delivered units.
        mask: (n, 1, S, S) bool body mask of each slice.
        labels: (n, 1, S, S) uint8 class indices, or ``None``.
        index: (n,) position of each slice along the slice axis.
        depth: number of planes of the whole volume along that axis.
    """

    images: dict[str, torch.Tensor]
    mask: torch.Tensor
    labels: torch.Tensor | None
    index: list[int]
    depth: int


def agree(volumes: Mapping[str, Volume]) -> None:
    """Raise :class:`DataFileError` if the volumes of one patient differ in shape or spacing."""
    shapes = {role: v.shape for role, v in volumes.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{r} {'x'.join(map(str, s))}" for r, s in shapes.items())
        raise DataFileError(
            f"the volumes of this patient have different shapes ({listed}); resample them to "
            "one grid"
        )
    spacings = [np.asarray(v.spacing) for v in volumes.values()]
    if any(not np.allclose(s, spacings[0], rtol=SPACING_TOLERANCE) for s in spacings):
        listed = ", ".join(
            f"{r} {'x'.join(f'{x:g}' for x in v.spacing)} mm" for r, v in volumes.items()
        )
        raise DataFileError(
            f"the volumes of this patient have different voxel spacings ({listed}); resample "
            "them to one grid"
        )


def class_indices(planes: np.ndarray, settings: CutSettings) -> np.ndarray:
    """Raw label values as class indices (uint8).

    Raises:
        DataFileError: a value is not a declared class (or there are more distinct values than
            classes could be).
    """
    values = np.rint(planes).astype(np.int64)
    found = np.unique(values)
    if len(found) > 256:
        raise DataFileError("its label map holds more distinct values than classes can be")
    mapping = settings.label_values or {int(v): int(v) for v in found}
    out = np.zeros(values.shape, dtype=np.uint8)
    for raw in (int(v) for v in found):
        index = mapping.get(raw, -1)
        if not 0 <= index < max(settings.classes, 1):
            raise DataFileError("its label map holds a value that is not a declared class")
        if index:
            out[values == raw] = index
    return out


def cut_patient(
    volumes: Mapping[str, Volume],
    domains: Mapping[str, DomainInfo],
    settings: CutSettings,
    mask: Volume | None = None,
    labels: Volume | None = None,
) -> PatientSlices:
    """Check, cut and resize one patient's volumes (already in delivered units).

    Args:
        volumes: domain key → volume.
        domains: domain key → its declared domain (windows for the derived mask).
        settings: size, axis and the empty-slice rule.
        mask: the body-mask volume, or ``None`` to derive it from the images (union over
            domains).
        labels: the label-map volume, or ``None``.

    Raises:
        DataFileError: shapes or spacings disagree, or the label map holds an unknown value.
    """
    extra = {"mask": mask, "labels": labels}
    agree({**volumes, **{k: v for k, v in extra.items() if v is not None}})
    axis, size = settings.axis, settings.size
    images = {k: square_stack(v.planes(axis), size) for k, v in volumes.items()}
    depth = next(iter(images.values())).shape[0]
    if mask is not None:
        inside = square_mask(mask.planes(axis), size)
    else:
        inside = torch.zeros((depth, 1, size, size), dtype=torch.bool)
        for k, resized in images.items():
            inside |= body_mask(resized, domains[k].window)
    label_maps = (
        square_labels(class_indices(labels.planes(axis), settings), size)
        if labels is not None
        else None
    )
    keep = (
        inside.flatten(1).any(dim=1) if settings.skip_empty else torch.ones(depth, dtype=torch.bool)
    )
    index = torch.nonzero(keep).flatten()
    return PatientSlices(
        images={k: v[index] for k, v in images.items()},
        mask=inside[index],
        labels=label_maps[index] if label_maps is not None else None,
        index=[int(i) for i in index],
        depth=depth,
    )


def _read(source: Source, domain: DomainInfo, patient: Patient, settings: CutSettings) -> Volume:
    """One domain's volume in delivered units (missing file and NaN counts are problems)."""
    if isinstance(source, Path) and not source.exists():
        raise DataFileError(f"missing {source.name}")
    volume = read_volume(source, rescale=domain.units == "HU", volume_index=patient.volume_index)
    return Volume(
        to_units(volume.data, domain, settings.percentile), volume.spacing, volume.nonfinite
    )


@dataclass
class _Collected:
    images: dict[str, list[torch.Tensor]]
    masks: list[torch.Tensor] = field(default_factory=list)
    labels: list[torch.Tensor] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    slices: list[int] = field(default_factory=list)
    depths: dict[str, int] = field(default_factory=dict)


def read_patients(
    patients: Sequence[Patient],
    domains: Mapping[str, DomainInfo],
    settings: CutSettings,
    root: Path,
    problems: InputProblems,
) -> dict[str, Any]:
    """Read, check and cut every patient: the payload the slice cache stores.

    A patient whose file is missing, unreadable, links outside ``root``, holds NaN/inf voxels,
    or whose volumes disagree in shape or spacing is refused naming its folder (strict), or
    skipped and counted (lenient; NaN/inf voxels are then set to 0 and the count recorded).

    Returns:
        per domain key (n, 1, S, S) float32; ``mask`` (n, 1, S, S) bool; ``labels`` (n, 1, S,
        S) uint8 when every patient has a label map; per slice ``groups`` (split unit),
        ``volumes`` (volume key) and ``slices`` (index along the axis); ``depths`` (volume key
        → planes along the axis); ``problems`` (records).
    """
    got = _Collected(images={k: [] for k in domains})
    with_labels = all(p.labels is not None for p in patients)
    label = f"reading and cutting {len(patients)} patient volume(s)"
    with progress.phase(label, total=len(patients), unit="patients") as shown:
        for patient in patients:
            try:
                cut = _cut(patient, domains, settings, root, problems, with_labels)
            except DataFileError as exc:
                problems.add(patient.where, exc.message)
                continue
            finally:
                shown.advance()
            _collect(got, patient, cut)
    size = settings.size
    empty = torch.zeros((0, 1, size, size))
    payload: dict[str, Any] = {
        **{k: torch.cat(v) if v else empty for k, v in got.images.items()},
        "mask": torch.cat(got.masks) if got.masks else empty.bool(),
        "groups": got.groups,
        "volumes": got.volumes,
        "slices": got.slices,
        "depths": got.depths,
        "problems": problems.records(),
    }
    if with_labels and patients:
        payload["labels"] = torch.cat(got.labels) if got.labels else empty.to(torch.uint8)
    return payload


def _collect(got: _Collected, patient: Patient, cut: PatientSlices) -> None:
    """Add one patient's slices, tagged with its keys, to what was read."""
    for k in got.images:
        got.images[k].append(cut.images[k])
    got.masks.append(cut.mask)
    if cut.labels is not None:
        got.labels.append(cut.labels)
    n = len(cut.index)
    got.groups += [patient.split_group] * n
    got.volumes += [patient.key] * n
    got.slices += cut.index
    got.depths[patient.key] = cut.depth


def _cut(
    patient: Patient,
    domains: Mapping[str, DomainInfo],
    settings: CutSettings,
    root: Path,
    problems: InputProblems,
    with_labels: bool,
) -> PatientSlices:
    sources = [*patient.images.values(), patient.mask, patient.labels]
    for source in sources:
        paths = source if isinstance(source, tuple) else (source,) if source is not None else ()
        if any(outside_root(p, root) for p in paths):
            raise DataFileError(LINKED_OUTSIDE)
    volumes = {k: _read(s, domains[k], patient, settings) for k, s in patient.images.items()}
    extra = {}
    for role, path in (("mask", patient.mask), ("labels", patient.labels if with_labels else None)):
        if path is not None:
            if not path.exists():
                raise DataFileError(f"missing {path.name}")
            extra[role] = read_volume(path)  # masks and label maps are 3-D files
    bad = sum(v.nonfinite for v in (*volumes.values(), *extra.values()))
    if bad:
        # Strict mode refuses the patient here; lenient mode keeps it with the voxels at 0.
        problems.add(patient.where, f"{bad} NaN or infinite voxel(s), set to 0")
    return cut_patient(volumes, domains, settings, extra.get("mask"), extra.get("labels"))


__all__ = [
    "SPACING_TOLERANCE",
    "CutSettings",
    "Patient",
    "PatientSlices",
    "Source",
    "agree",
    "class_indices",
    "cut_patient",
    "read_patients",
]
