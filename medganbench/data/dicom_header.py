"""What a DICOM file's header declares, read into a :class:`DicomHeader` and checked.

The checks here need only the parsed header elements: colour, malformed or oversized image
sizes (against :func:`~medganbench.data.images.oversize`), and malformed rescale tags. Values
pydicom cannot convert make the whole header unreadable; optional geometry tags that are
malformed are simply absent (``None``), as if the file had none.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from pydicom.dataset import Dataset

from medganbench.data.images import MAX_SIDE_ENV, max_image_side, oversize
from medganbench.errors import DataError


class DicomFileError(DataError):
    """One file cannot be used as a DICOM image; ``message`` says why, never a header value."""


@dataclass(frozen=True)
class DicomHeader:
    """What a file's header says about its image and where it belongs.

    The identifying fields are hidden from ``repr`` so that logging a header cannot leak them;
    :func:`~medganbench.data.dicom_series.anonymise` turns them into ids that may be shown.

    Attributes:
        modality: the Modality tag (``""`` if absent).
        rows, columns, frames: the image size (frames is 1 for a single-frame file).
        position: distance along the slice normal, ImagePositionPatient · (row × column
            direction), in mm; ``None`` without both tags.
        instance: InstanceNumber, if present.
        orientation: ImageOrientationPatient (six direction cosines), if present.
        pixel_spacing: PixelSpacing, (row spacing, column spacing) in mm, if present.
        slice_thickness: SliceThickness in mm, if present.
        patient, study, series: PatientID, StudyInstanceUID, SeriesInstanceUID (raw: never
            show them).
        slice_spacing: SpacingBetweenSlices in mm, if present.
    """

    modality: str
    rows: int
    columns: int
    frames: int
    position: float | None
    instance: int | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    patient: str = field(repr=False, default="")
    study: str = field(repr=False, default="")
    series: str = field(repr=False, default="")
    slice_spacing: float | None = None


def checked_header(ds: Dataset) -> tuple[DicomHeader, int]:
    """The header of a parsed dataset, and the bytes of uncompressed pixel data it declares.

    Raises:
        DicomFileError: colour, malformed or oversized sizes, or an unreadable value.
    """
    if _number(ds, "SamplesPerPixel", int, 1) != 1:
        raise DicomFileError("colour DICOM images are not supported")
    try:
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        # An absent or zero NumberOfFrames means one frame, as pydicom reads it.
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        bits = int(ds.get("BitsAllocated", 0) or 0)
    except (TypeError, ValueError):
        raise DicomFileError("malformed Rows/Columns/NumberOfFrames") from None
    if min(rows, columns, frames) < 1:
        raise DicomFileError("malformed Rows/Columns/NumberOfFrames")
    if bits not in (1, 8, 16, 32, 64):
        raise DicomFileError("malformed BitsAllocated")
    if oversize(rows, columns, frames) is not None:
        raise DicomFileError(
            f"refused: its header declares more pixels than the limit of {max_image_side()} "
            f"a side ({MAX_SIDE_ENV})"
        )
    try:
        header = DicomHeader(
            modality=str(ds.get("Modality", "") or ""),
            rows=rows,
            columns=columns,
            frames=frames,
            position=_position(ds),
            instance=_number(ds, "InstanceNumber", int, None),
            orientation=_floats(ds, "ImageOrientationPatient", 6),
            pixel_spacing=cast("tuple[float, float] | None", _floats(ds, "PixelSpacing", 2)),
            slice_thickness=_number(ds, "SliceThickness", float, None),
            patient=str(ds.get("PatientID", "") or ""),
            study=str(ds.get("StudyInstanceUID", "") or ""),
            series=str(ds.get("SeriesInstanceUID", "") or ""),
            slice_spacing=_number(ds, "SpacingBetweenSlices", float, None),
        )
    except Exception:  # noqa: BLE001 - a value pydicom cannot convert (bad charset, bytes)
        raise DicomFileError("unreadable or truncated DICOM header") from None
    return header, (rows * columns * frames * bits + 7) // 8


def _number(ds: Dataset, keyword: str, kind: Callable[[Any], Any], default: Any) -> Any:
    """``kind(value)`` of a tag; ``default`` if absent, empty, malformed or not finite."""
    try:
        value = ds.get(keyword)
        result = default if value is None or value == "" else kind(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return default if isinstance(result, float) and not math.isfinite(result) else result


def _floats(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """A multi-valued tag of ``count`` finite numbers, else ``None``."""
    try:
        values = tuple(float(v) for v in ds.get(keyword))
    except (TypeError, ValueError):
        return None
    return values if len(values) == count and all(np.isfinite(values)) else None


def _position(ds: Dataset) -> float | None:
    """Distance along the slice normal: ImagePositionPatient · (row × column direction)."""
    ipp, iop = _floats(ds, "ImagePositionPatient", 3), _floats(ds, "ImageOrientationPatient", 6)
    if ipp is None or iop is None:
        return None
    return float(np.asarray(ipp) @ np.cross(iop[:3], iop[3:]))


def rescale_of(ds: Dataset) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept), 1 and 0 where absent.

    Raises:
        DicomFileError: either is malformed or not finite.
    """
    try:
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        raise DicomFileError("malformed RescaleSlope/RescaleIntercept") from None
    if not (np.isfinite(slope) and np.isfinite(intercept)):
        raise DicomFileError("malformed RescaleSlope/RescaleIntercept")
    return slope, intercept
