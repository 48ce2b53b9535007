"""Patients of 3-D volumes as 2-D slices that remember their volume: the shared machinery of
``synthrad2023``, ``synthrad2025``, ``paired-volume-folder`` and ``unpaired-volume-folder``.

Reading (:func:`read_volume`): NIfTI (``.nii``, ``.nii.gz``) with nibabel, MetaImage (``.mha``,
``.mhd``) with SimpleITK (the ``mha`` extra), a folder of DICOM files as one series with
pydicom. Every volume is returned in nibabel's index order (x, y, z) with its voxel spacing in
mm, so ``slice_axis=2`` cuts axial slices whatever the format.

Cutting (:func:`cut_patient`): the volumes of one patient (and its mask) must have the same
shape and spacing, else the patient is refused with one message naming its folder (never a
header value). Slices are taken along ``slice_axis``; a slice whose body mask is empty is not
delivered (paired metrics are undefined there); each delivered slice is padded to a square and
resized to ``--image-size`` (bilinear, antialiased), and its mask with it (kept where the
resized mask is at least one half).

Serving (:class:`VolumeDataset`): a paired split's items carry ``"volume"`` (index of the
patient in :meth:`VolumeDataset.volume_ids` of that split) and ``"slice"`` (index along the
slice axis), so the runner can put a patient's translated slices back together
(:mod:`medganbench.core.volumes`). Splits are made by patient with
:func:`~medganbench_plugins.datasets.slices.assign_splits` (seeded, recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medganbench.core.dataset import SPLITS, DatasetInfo, DomainInfo, Sample
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY, NativeSlices
from medganbench.errors import DataError
from medganbench_plugins.datasets.dicom_series import (
    DicomFileError,
    list_dicom_files,
    read_ct_slice,
    read_mr_slice,
)
from medganbench_plugins.datasets.nifti_volumes import (
    VolumeError,
    load_volume,
    percentile_normalise,
    square_slice,
)
from medganbench_plugins.datasets.slices import (
    InputProblems,
    SliceDataset,
    SliceSplit,
    assign_splits,
    body_mask,
    stack,
)

__all__ = [
    "PatientFiles",
    "PatientSlices",
    "Volume",
    "VolumeDataset",
    "VolumeSplit",
    "build_unpaired_dataset",
    "build_volume_dataset",
    "cut_patient",
    "read_patients",
    "read_volume",
    "to_units",
]

#: Relative tolerance on voxel spacings that must agree inside a patient.
SPACING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Volume:
    """A volume in (x, y, z) order, float32, with its voxel spacing in mm."""

    data: np.ndarray
    spacing: tuple[float, float, float]


def read_volume(path: Path, modality: str = "CT") -> Volume:
    """Read one volume file (NIfTI or MetaImage) or a folder holding one DICOM series.

    Args:
        path: the file, or the folder of a DICOM series.
        modality: ``"CT"`` (DICOM values rescaled to HU) or anything else (stored values).

    Raises:
        VolumeError: unreadable, not 3-D, a DICOM series with slices of different sizes, or
            SimpleITK missing for a MetaImage file.
    """
    name = path.name.lower()
    if path.is_dir():
        return _read_dicom_series(path, modality)
    if name.endswith((".mha", ".mhd")):
        return _read_metaimage(path)
    data = load_volume(path)
    try:
        import nibabel as nib

        zooms = nib.load(str(path)).header.get_zooms()[:3]
        spacing = tuple(float(z) for z in zooms)
    except Exception:  # noqa: BLE001 - load_volume has already read the header once
        spacing = (1.0, 1.0, 1.0)
    return Volume(data, (spacing + (1.0, 1.0, 1.0))[:3])  # type: ignore[arg-type]


def _read_metaimage(path: Path) -> Volume:
    try:
        import SimpleITK as sitk
    except ImportError:
        raise VolumeError(
            "reading .mha/.mhd needs SimpleITK: pip install 'medganbench[mha]'"
        ) from None
    try:
        image = sitk.ReadImage(str(path))
        array = sitk.GetArrayFromImage(image)  # (z, y, x)
    except Exception:  # noqa: BLE001 - ITK raises RuntimeError with reader details
        raise VolumeError("not a readable MetaImage file") from None
    if array.ndim != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeError(f"{array.ndim}-D MetaImage data; expected a scalar 3-D volume")
    data = np.ascontiguousarray(np.transpose(array, (2, 1, 0)), dtype=np.float32)
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    spacing = tuple(float(s) for s in image.GetSpacing())
    return Volume(data, spacing)  # type: ignore[arg-type]


def _read_dicom_series(folder: Path, modality: str) -> Volume:
    files, _ = list_dicom_files(folder)
    if not files:
        raise VolumeError("no DICOM file in the folder")
    reader = read_ct_slice if modality == "CT" else read_mr_slice
    planes: list[tuple[float, float, str, np.ndarray]] = []
    for path in files:
        try:
            pixels, meta = reader(path)
        except DicomFileError as exc:
            raise VolumeError(f"{path.name}: {exc.message}") from None
        position = meta.position if meta.position is not None else float("inf")
        instance = float(meta.instance) if meta.instance is not None else float("inf")
        for frame in pixels if pixels.ndim == 3 else pixels[None]:
            planes.append((position, instance, path.name, frame))
    planes.sort(key=lambda p: p[:3])
    shapes = {p[3].shape for p in planes}
    if len(shapes) > 1:
        raise VolumeError("the DICOM series has slices of different sizes")
    data = np.stack([p[3].T for p in planes], axis=2).astype(np.float32)
    return Volume(data, (1.0, 1.0, 1.0))


def to_units(volume: np.ndarray, domain: DomainInfo, percentile: float) -> np.ndarray:
    """Values in the domain's delivered units: HU as read; MR scaled per volume to [0, 1]."""
    if domain.units == "HU":
        return volume.astype(np.float32, copy=False)
    return percentile_normalise(volume, percentile)


@dataclass(frozen=True)
class PatientSlices:
    """The delivered slices of one patient.

    Attributes:
        images: per domain key present, (n, 1, S, S) float32 slices in delivered units.
        mask: (n, 1, S, S) bool body mask of each slice.
        index: (n,) position of each slice along the slice axis.
        depth: number of slices of the whole volume along that axis.
    """

    images: dict[str, torch.Tensor]
    mask: torch.Tensor
    index: list[int]
    depth: int


def _agree(volumes: Mapping[str, Volume]) -> None:
    """Raise :class:`VolumeError` if the volumes of one patient differ in shape or spacing."""
    shapes = {role: v.data.shape for role, v in volumes.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{r} {'x'.join(map(str, s))}" for r, s in shapes.items())
        raise VolumeError(
            f"the volumes of this patient have different shapes ({listed}); resample them to "
            "one grid"
        )
    spacings = [np.asarray(v.spacing) for v in volumes.values()]
    if any(not np.allclose(s, spacings[0], rtol=SPACING_TOLERANCE) for s in spacings):
        listed = ", ".join(
            f"{r} {'x'.join(f'{x:g}' for x in v.spacing)} mm" for r, v in volumes.items()
        )
        raise VolumeError(
            f"the volumes of this patient have different voxel spacings ({listed}); resample "
            "them to one grid"
        )


def cut_patient(
    volumes: Mapping[str, Volume],
    mask: Volume | None,
    domains: Mapping[str, DomainInfo],
    axis: int,
    size: int,
) -> PatientSlices:
    """Check, cut and resize one patient's volumes (already in delivered units).

    Args:
        volumes: domain key (``"a"``, ``"b"``) → volume.
        mask: the body mask volume (nonzero inside), or ``None`` to derive it from the images
            (:func:`~medganbench_plugins.datasets.slices.body_mask`, union over domains).
        domains: domain key → its declared domain (windows for the derived mask).
        axis: the array axis slices are taken across.
        size: ``--image-size``.

    Raises:
        VolumeError: shapes or spacings disagree (the caller names the patient folder).
    """
    _agree({**volumes, **({"mask": mask} if mask is not None else {})})
    depth = next(iter(volumes.values())).data.shape[axis]
    images: dict[str, list[torch.Tensor]] = {k: [] for k in volumes}
    masks: list[torch.Tensor] = []
    index: list[int] = []
    for i in range(depth):
        planes = {k: np.take(v.data, i, axis=axis) for k, v in volumes.items()}
        resized = {k: square_slice(p, size) for k, p in planes.items()}
        if mask is not None:
            plane = (np.take(mask.data, i, axis=axis) > 0).astype(np.float32)
            # Pad to the square with 0 (outside) here: square_slice pads with the minimum,
            # which is 1 for a mask that fills the slice.
            h, w = plane.shape
            side = max(h, w)
            top, left = (side - h) // 2, (side - w) // 2
            plane = np.pad(plane, ((top, side - h - top), (left, side - w - left)))
            inside = square_slice(plane, size) >= 0.5
        else:
            inside = torch.zeros((1, size, size), dtype=torch.bool)
            for k, r in resized.items():
                inside |= body_mask(r[None], domains[k].window)[0]
        if not bool(inside.any()):
            continue
        for k, r in resized.items():
            images[k].append(r)
        masks.append(inside)
        index.append(i)
    return PatientSlices(
        images={k: stack(v, 1, size) for k, v in images.items()},
        mask=torch.stack(masks) if masks else torch.zeros((0, 1, size, size), dtype=torch.bool),
        index=index,
        depth=depth,
    )


@dataclass(frozen=True)
class PatientFiles:
    """Where one patient's files are.

    Attributes:
        key: the patient's volume id (a public case name, or an anonymous hash).
        where: its folder relative to the root, named in messages.
        images: domain key → file (or DICOM folder).
        mask: the body-mask file, if any.
    """

    key: str
    where: str
    images: Mapping[str, Path]
    mask: Path | None = None


def read_patients(
    patients: Sequence[PatientFiles],
    domains: Mapping[str, DomainInfo],
    args: Mapping[str, Any],
    size: int,
) -> dict[str, Any]:
    """Read, check and cut every patient (the payload :func:`build_volume_dataset` serves).

    ``args`` needs ``slice_axis``, ``percentile`` and ``strict``. A patient whose file is
    missing or unreadable, or whose volumes disagree in shape or spacing, is refused naming its
    folder (strict), or skipped and counted.

    Returns:
        ``a`` and/or ``b`` (n, 1, S, S), ``mask`` (n, 1, S, S), ``groups`` (patient key per
        slice), ``slices`` (index per slice), ``depths`` (patient key → number of slices along
        the axis) and ``problems``.
    """
    problems = InputProblems(strict=bool(args["strict"]))
    images: dict[str, list[torch.Tensor]] = {k: [] for k in domains}
    masks: list[torch.Tensor] = []
    groups: list[str] = []
    index: list[int] = []
    depths: dict[str, int] = {}
    for patient in patients:
        try:
            volumes = {}
            for k, path in patient.images.items():
                if not path.exists():
                    raise VolumeError(f"missing {path.name}")
                read = read_volume(path, domains[k].modality)
                volumes[k] = Volume(
                    to_units(read.data, domains[k], float(args["percentile"])), read.spacing
                )
            if patient.mask is not None and not patient.mask.exists():
                raise VolumeError(f"missing {patient.mask.name}")
            mask = read_volume(patient.mask) if patient.mask is not None else None
            cut = cut_patient(volumes, mask, domains, int(args["slice_axis"]), size)
        except VolumeError as exc:
            problems.add(patient.where, exc.message)
            continue
        for k in images:
            images[k].append(cut.images[k])
        masks.append(cut.mask)
        groups += [patient.key] * len(cut.index)
        index += cut.index
        depths[patient.key] = cut.depth
    empty = torch.zeros((0, 1, size, size))
    return {
        **{k: torch.cat(v) if v else empty for k, v in images.items()},
        "mask": torch.cat(masks) if masks else empty.bool(),
        "groups": groups,
        "slices": index,
        "depths": depths,
        "problems": [list(p) for p in problems.problems],
    }


class VolumeSplit(SliceSplit):
    """A paired split whose items also say which patient volume and slice they are."""

    def __init__(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        mask: torch.Tensor,
        volume: torch.Tensor,
        index: torch.Tensor,
    ) -> None:
        super().__init__(a, b, mask, mask.clone(), paired=True)
        self.volume, self.index = volume, index

    def __getitem__(self, i: int) -> Sample:
        item = super().__getitem__(i)
        item[VOLUME_KEY] = self.volume[i].clone()
        item[SLICE_KEY] = self.index[i].clone()
        return item


class VolumeDataset(SliceDataset):
    """A :class:`SliceDataset` whose paired splits remember each slice's patient volume.

    Attributes:
        volumes: split → the volume ids (patient keys) of that split, in the order the
            items' ``"volume"`` indices refer to.
        native: patient key, domain key, slice indices → those slices on the native grid;
            ``None`` when the dataset was built without one.
    """

    def __init__(
        self,
        info: DatasetInfo,
        splits: Mapping[str, SliceSplit],
        fingerprint: str,
        split_record: Mapping[str, str],
        volumes: Mapping[str, Sequence[str]],
        native: Callable[[str, str, Sequence[int]], NativeSlices] | None = None,
    ) -> None:
        super().__init__(info, splits, fingerprint, split_record)
        self.volumes = {k: list(v) for k, v in volumes.items()}
        self.native = native

    def native_slices(
        self, split: str, volume: int, key: str, slices: Sequence[int]
    ) -> NativeSlices:
        """Slices ``slices`` of domain ``key`` of patient ``volume`` of ``split``, native grid.

        Raises:
            DataError: the dataset has no native-grid reader, or the patient's files cannot be
                read again.
        """
        if self.native is None:
            raise DataError("This dataset cannot read its patients on the native grid.")
        return self.native(self.volume_ids(split)[volume], key, slices)

    def volume_ids(self, split: str) -> list[str]:
        """The patient keys of ``split`` (empty for an unpaired dataset)."""
        self.split(split)  # unknown split: UsageError
        return list(self.volumes.get(split, []))


def build_volume_dataset(
    payload: Mapping[str, Any],
    domains: tuple[DomainInfo, DomainInfo],
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
    native: Callable[[str, str, Sequence[int]], NativeSlices] | None = None,
) -> VolumeDataset:
    """Split a paired payload by patient and serve it.

    Args:
        payload: ``a``, ``b`` (n, 1, S, S), ``mask`` (n, 1, S, S) bool, ``groups`` (patient key
            of each slice) and ``slices`` (index of each slice), as cached.
        native: the native-grid reader (``eval_grid=native``), else ``None``.

    Raises:
        DataError: no slice, or fewer patients than splits.
    """
    groups: list[str] = list(payload["groups"])
    if not groups:
        raise DataError("No usable slices were found (no body inside any mask).")
    record = assign_splits(groups, ratios, seed)
    index = torch.as_tensor(list(payload["slices"]), dtype=torch.int64)
    splits: dict[str, SliceSplit] = {}
    volumes: dict[str, list[str]] = {}
    for name in SPLITS:
        members = [i for i, g in enumerate(groups) if record[g] == name]
        ids = sorted({groups[i] for i in members})
        position = {g: k for k, g in enumerate(ids)}
        volume = torch.as_tensor([position[groups[i]] for i in members], dtype=torch.int64)
        pick = torch.as_tensor(members, dtype=torch.int64)
        splits[name] = VolumeSplit(
            payload["a"][pick], payload["b"][pick], payload["mask"][pick], volume, index[pick]
        )
        volumes[name] = ids
    info = DatasetInfo(a=domains[0], b=domains[1], paired=True, splits=SPLITS, image_size=size)
    return VolumeDataset(info, splits, fingerprint, record, volumes, native)


def build_unpaired_dataset(
    payloads: tuple[Mapping[str, Any], Mapping[str, Any]],
    domains: tuple[DomainInfo, DomainInfo],
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
) -> SliceDataset:
    """Serve two single-domain payloads (A patients, B patients) as an unpaired dataset.

    Each domain's patients are split with ``seed``; item ``i`` of a split pairs A slice
    ``i mod n_a`` with B slice ``i mod n_b`` (different patients: nothing is pixel-paired, so
    only the cycle directions are scored per pixel, slice by slice).

    Raises:
        DataError: a domain has no slice, or fewer patients than splits.
    """
    records = []
    for payload, side in zip(payloads, "AB", strict=True):
        if not list(payload["groups"]):
            raise DataError(f"No usable slices were found in the {side} tree.")
        records.append(assign_splits(list(payload["groups"]), ratios, seed))
    key = ("a", "b")
    splits: dict[str, SliceSplit] = {}
    for name in SPLITS:
        parts = []
        for payload, record, k in zip(payloads, records, key, strict=True):
            pick = torch.as_tensor(
                [i for i, g in enumerate(payload["groups"]) if record[g] == name],
                dtype=torch.int64,
            )
            parts.append((payload[k][pick], payload["mask"][pick]))
        (a, mask_a), (b, mask_b) = parts
        splits[name] = SliceSplit(a, b, mask_a, mask_b, paired=False)
    record = {f"{side}/{g}": s for side, r in zip("AB", records, strict=True) for g, s in r.items()}
    info = DatasetInfo(a=domains[0], b=domains[1], paired=False, splits=SPLITS, image_size=size)
    return SliceDataset(info, splits, fingerprint, record)
