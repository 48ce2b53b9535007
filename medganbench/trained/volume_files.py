"""A translated volume written with its input's geometry.

* NIfTI in (``.nii``, ``.nii.gz``): the same format out, with the input's affine (qform and
  sform as the input has them) and header, the data float32 in the target domain's units with
  scaling reset (slope 1, intercept 0).
* A DICOM series in (a folder): a NIfTI file out, ``<folder>.nii.gz``, whose affine places the
  voxels where the series' slices are (ImagePositionPatient of the first slice along the normal,
  ImageOrientationPatient, PixelSpacing and the slice spacing; DICOM's LPS patient axes turned
  into NIfTI's RAS). Writing DICOM back would mean inventing UIDs and clinical headers for
  synthetic images; NIfTI says what they are.
* MetaImage or NRRD in: the same format out through SimpleITK (``pip install
  'medganbench[mha]'``), origin, spacing and direction copied from the input.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from medganbench.data.dicom import list_dicom_files
from medganbench.data.volume import ITK_SUFFIXES, NIFTI_SUFFIXES
from medganbench.errors import DataError, UsageError
from medganbench.fileio import write_bytes


def output_name(source: Path) -> str:
    """The output file's name for the input ``source`` (a DICOM folder becomes NIfTI)."""
    if source.is_dir():
        return f"{source.name}.nii.gz"
    return source.name


def write_like(source: Path, data: np.ndarray, target: Path) -> None:
    """Write ``data`` ((x, y, z) float32, the input's index order) to ``target`` with the
    geometry of the volume ``source`` (see the module).

    Raises:
        DataError: the input's header cannot be read again.
        UsageError: a MetaImage or NRRD input without SimpleITK.
    """
    if source.is_dir():
        _write_nifti(target, data, _dicom_affine(source), None)
        return
    name = source.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        import nibabel as nib

        try:
            image: Any = nib.load(str(source))
            affine, header = image.affine, image.header.copy()
        except Exception:  # noqa: BLE001 - it was read a moment ago; a changed file is bad input
            raise DataError(f"{source}: its NIfTI header cannot be read again.") from None
        _write_nifti(target, data, affine, header)
    elif name.endswith(ITK_SUFFIXES):
        _write_itk(source, data, target)
    else:  # pragma: no cover - the caller only passes volumes read_volume read
        raise DataError(f"{source} is not a volume file.")


def _write_nifti(target: Path, data: np.ndarray, affine: np.ndarray, header: object) -> None:
    import nibabel as nib

    image: Any = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine, header)  # type: ignore[no-untyped-call]
    image.set_data_dtype(np.float32)
    image.header.set_slope_inter(1.0, 0.0)
    image.header["descrip"] = b"medganbench synthetic"
    payload = image.to_bytes()
    if target.name.lower().endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    write_bytes(target, payload)


def _dicom_affine(folder: Path) -> np.ndarray:
    """The NIfTI (RAS) affine of the series in ``folder``, in the (column, row, slice) index
    order :func:`~medganbench.data.reader.read_volume` gives it."""
    import pydicom

    files, _ = list_dicom_files(folder)
    positions = []
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            ipp = [float(v) for v in ds.ImagePositionPatient]
            iop = [float(v) for v in ds.ImageOrientationPatient]
            spacing = [float(v) for v in ds.PixelSpacing]
        except Exception:  # noqa: BLE001 - a missing or malformed tag: no geometry to copy
            return np.eye(4)
        positions.append((ipp, iop, spacing))
    if not positions:
        return np.eye(4)
    row_dir, col_dir = np.array(positions[0][1][:3]), np.array(positions[0][1][3:])
    normal = np.cross(row_dir, col_dir)
    # read_volume orders slices by their position along the normal; the first is the lowest.
    ordered = sorted(positions, key=lambda p: float(np.dot(p[0], normal)))
    origin = np.array(ordered[0][0])
    row_spacing, column_spacing = ordered[0][2]
    # One slice apart along the normal (a single slice: 1 mm, as read_volume assumes).
    last = np.array(ordered[-1][0])
    step = (last - origin) / (len(ordered) - 1) if len(ordered) > 1 else normal
    lps = np.eye(4)
    lps[:3, 0] = row_dir * column_spacing  # index x walks along a row: one column each
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _write_itk(source: Path, data: np.ndarray, target: Path) -> None:
    try:
        import SimpleITK as sitk
    except ImportError:
        raise UsageError(
            f"{source.name}: writing MetaImage/NRRD needs SimpleITK, which is not installed.",
            hint="Install it with: python3 -m pip install 'medganbench[mha]'",
        ) from None
    reference = sitk.ReadImage(str(source))
    # SimpleITK's arrays are (z, y, x); ours are (x, y, z).
    image: Any = sitk.GetImageFromArray(
        np.ascontiguousarray(np.asarray(data, np.float32).transpose(2, 1, 0))
    )
    image.CopyInformation(reference)
    tmp = target.with_name(f".{target.name}.tmp{target.suffix}")
    sitk.WriteImage(image, str(tmp))
    tmp.replace(target)


def dicom_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding DICOM files directly (one series)."""
    if not path.is_dir():
        return False
    files, _ = list_dicom_files(path)
    return bool(files)


__all__ = ["dicom_folder", "output_name", "write_like"]
