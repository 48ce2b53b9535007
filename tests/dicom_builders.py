"""DICOM files generated for the reader's tests, from pydicom's real ``CT_small.dcm``.

Each file is CT_small with its identifiers, geometry and pixels replaced (written back with
pydicom), so a test knows every value it reads back. Nothing here is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import FileDataset
from pydicom.encaps import encapsulate

SECRET_PATIENT = "SECRET-PATIENT-4711"
SECRET_NAME = "SECRETNAME^JANE"
#: UIDs chosen so a test can look for them in text (they are valid UIDs all the same).
SECRET_STUDY = "1.2.826.0.1.3680043.8.498.777001"
SECRET_SERIES = "1.2.826.0.1.3680043.8.498.777002"


def ct_dataset(
    pixels: np.ndarray | None = None,
    *,
    patient: str = SECRET_PATIENT,
    study: str = SECRET_STUDY,
    series: str = SECRET_SERIES,
    z: float | None = 0.0,
    instance: int | None = 1,
    spacing: tuple[float, float] | None = (0.5, 0.75),
) -> FileDataset:
    """CT_small with these pixels (int16, (rows, cols) or (frames, rows, cols)) and tags.

    ``z``: ImagePositionPatient's z with an axial orientation (``None``: no geometry tags);
    ``spacing``: PixelSpacing (row, column) (``None``: absent).
    """
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    if pixels is None:
        pixels = np.arange(16 * 12, dtype=np.int16).reshape(16, 12)
    ds.PatientID, ds.PatientName = patient, SECRET_NAME
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "InstanceNumber"):
        if keyword in ds:
            delattr(ds, keyword)
    if z is not None:
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-10.0, 20.0, z]
    if instance is not None:
        ds.InstanceNumber = instance
    if spacing is None:
        del ds.PixelSpacing
    else:
        ds.PixelSpacing = list(spacing)
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def replace_once(path: Path, old: bytes, new: bytes) -> Path:
    """Replace the one occurrence of ``old`` in the file by ``new`` (same length): a value
    pydicom's own validation would not write, as a hostile file holds it."""
    data = path.read_bytes()
    assert data.count(old) == 1 and len(new) == len(old), (old, new)
    path.write_bytes(data.replace(old, new))
    return path


def write(ds: FileDataset, path: Path, **options: Any) -> Path:
    """Save ``ds`` at ``path`` (folders made) as a DICOM file with preamble and file meta."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True, **options)
    return path


def ct_file(path: Path, pixels: np.ndarray | None = None, **tags: Any) -> Path:
    """:func:`ct_dataset` written at ``path``."""
    return write(ct_dataset(pixels, **tags), path)


def encapsulated_dataset(
    frames: list[bytes],
    syntax: str,
    rows: int,
    columns: int,
    *,
    number_of_frames: int | None = None,
    has_bot: bool = True,
) -> FileDataset:
    """An 8-bit MONOCHROME2 image whose pixel data are these compressed ``frames``, one
    fragment each, declaring ``rows`` × ``columns`` (and ``number_of_frames`` if given)."""
    ds = ct_dataset(np.zeros((rows, columns), np.int16))
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    if number_of_frames is not None:
        ds.NumberOfFrames = number_of_frames
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate(frames, has_bot=has_bot)
    ds["PixelData"].VR = "OB"
    return ds
