"""The one volume type: what :func:`medganbench.data.reader.read_volume` returns for NIfTI,
MetaImage, NRRD and DICOM series alike.

Every volume comes back in NIfTI's index order (x, y, z) as float32 with its voxel spacing in
mm, so ``slice_axis=2`` cuts axial slices whatever the format. Its memory is slice-major: each
plane ``data[:, :, k]`` is one C-contiguous (x, y) block (:func:`slice_major`), so cutting the
axial slices copies nothing; the readers write the voxels in that layout as they convert them
to float32, with no extra pass. Each
reader checks the size the file's header declares against the limits of
:mod:`medganbench.data.images` *before* decoding anything, and refuses links and detached data
files that lead elsewhere. Voxels that are NaN or infinite are counted
(:attr:`Volume.nonfinite`) and set to 0 here; the dataset store reports the count per patient
(strict mode refuses the patient), so no value is ever zeroed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: File name endings read as volumes (lower case); a folder is read as one DICOM series.
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
ITK_SUFFIXES: tuple[str, ...] = (".mha", ".mhd", ".nrrd", ".nhdr")
VOLUME_SUFFIXES: tuple[str, ...] = NIFTI_SUFFIXES + ITK_SUFFIXES


@dataclass(frozen=True)
class Volume:
    """A volume in (x, y, z) index order.

    Attributes:
        data: float32 array (X, Y, Z); each ``data[:, :, k]`` is C-contiguous.
        spacing: voxel spacing (x, y, z) in mm (1.0 where the file does not say).
        nonfinite: how many voxels were NaN or infinite in the file (they hold 0 here).
    """

    data: np.ndarray
    spacing: tuple[float, float, float]
    nonfinite: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        """(X, Y, Z)."""
        x, y, z = self.data.shape
        return int(x), int(y), int(z)

    def planes(self, axis: int) -> np.ndarray:
        """The slices across ``axis`` as one C-contiguous (n, h, w) float32 array.

        Plane ``i`` equals ``numpy.take(data, i, axis)``. Across axis 2 this is a view of the
        slice-major data; across another axis the volume is copied once (never once per slice:
        ``numpy.take`` on a non-C-ordered array copies the whole array per call).
        """
        return np.ascontiguousarray(np.moveaxis(self.data, axis, 0), dtype=np.float32)


def slice_major(planes: np.ndarray) -> np.ndarray:
    """The (x, y, z) view of C-contiguous (z, x, y) ``planes``: what :attr:`Volume.data` holds."""
    return planes.transpose(1, 2, 0)


def to_slice_major(data: np.ndarray) -> np.ndarray:
    """An (x, y, z) array as float32 in slice-major memory (one copy unless it already is)."""
    return slice_major(np.ascontiguousarray(np.moveaxis(data, 2, 0), dtype=np.float32))


def finite(data: np.ndarray) -> tuple[np.ndarray, int]:
    """``data`` as float32 with NaN/inf set to 0 (in place where possible), and their count."""
    data = data.astype(np.float32, copy=False)
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        if not data.flags.writeable:
            data = data.copy(order="K")
        np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return data, bad


def is_volume_file(path: Path) -> bool:
    """Whether the file name ends in one of :data:`VOLUME_SUFFIXES` (case-insensitive)."""
    return path.name.lower().endswith(VOLUME_SUFFIXES)


__all__ = [
    "ITK_SUFFIXES",
    "NIFTI_SUFFIXES",
    "VOLUME_SUFFIXES",
    "Volume",
    "finite",
    "is_volume_file",
    "slice_major",
    "to_slice_major",
]
