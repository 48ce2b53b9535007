"""One way in for every volume: :func:`read_volume` dispatches on the file to the reader of
its format (:mod:`~medganbench.data.nifti`, :mod:`~medganbench.data.itk`,
:mod:`~medganbench.data.dicom_series`), each of which checks the header against the limits before
decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medganbench.data.problems import DataFileError
from medganbench.data.volume import ITK_SUFFIXES, NIFTI_SUFFIXES, Volume, to_slice_major


def read_volume(
    path: Path | Sequence[Path], *, rescale: bool = True, volume_index: int = -1
) -> Volume:
    """Read one volume: a NIfTI, MetaImage or NRRD file, a folder holding one DICOM series, or
    the files of one DICOM series.

    Args:
        path: the file, the series folder, or the series' files.
        rescale: DICOM only: apply RescaleSlope/RescaleIntercept (CT in HU); ``False`` keeps
            the stored values (MR).
        volume_index: NIfTI only: for a 4-D file, the volume along the 4th axis; -1 means the
            file must be 3-D.

    Raises:
        DataFileError: unreadable, refused by a size or link check, not 3-D, or a format whose
            reader library is not installed (the message says what to install).
    """
    # Imported here: each reader pulls in its library (nibabel, SimpleITK, pydicom) only when
    # a volume of its format is read.
    if not isinstance(path, Path):
        from medganbench.data.dicom import assemble_series

        data, spacing = assemble_series(list(path), rescale=rescale)
        return Volume(to_slice_major(data), spacing)
    if path.is_dir():
        from medganbench.data.dicom import assemble_series, list_dicom_files

        files, _ = list_dicom_files(path)
        if not files:
            raise DataFileError("no DICOM file in the folder")
        data, spacing = assemble_series(files, rescale=rescale)
        return Volume(to_slice_major(data), spacing)
    name = path.name.lower()
    if name.endswith(ITK_SUFFIXES):
        from medganbench.data.itk import read_itk

        return read_itk(path)
    if name.endswith(NIFTI_SUFFIXES):
        from medganbench.data.nifti import read_nifti

        return read_nifti(path, volume_index)
    raise DataFileError(
        "not a volume file (expected .nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr or a DICOM folder)"
    )


__all__ = ["read_volume"]
