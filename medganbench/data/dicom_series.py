"""DICOM files grouped into anonymous series, and a series assembled into one checked volume.

Privacy: a file's patient and series are known only through *anonymous ids*, the first 12 hex
digits of an HMAC-SHA256 of PatientID (resp. PatientID, Study and Series UIDs) keyed by a digest
of all the study and series UIDs given. The key comes from the data, so the same files give the
same ids (and splits) on every machine, yet someone who sees only an id (in a split record, a
log line, a leaderboard row) cannot test guesses of PatientID against it. The algorithm is the
one ``dicom-folder`` has always used, so existing ids and splits do not change.

Order within a series: position along the slice normal, then InstanceNumber, then file name;
a missing value sorts last. A multi-frame file gives its frames in stored order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from medganbench.data.dicom_files import (
    read_header,
    read_pixels_into,
)
from medganbench.data.dicom_header import DicomFileError, DicomHeader
from medganbench.data.images import MAX_SIDE_ENV, max_image_side, oversize

#: Direction cosines of two slices differing by more than this are different orientations.
ORIENTATION_TOLERANCE = 1e-4
#: Pixel spacings differing by more than this fraction are different spacings.
SPACING_TOLERANCE = 1e-4
#: Slices closer than this along the normal (mm) are at the same position.
SAME_POSITION = 1e-3
#: Gaps between slices may differ from their median by this fraction; more is a missing slice.
GAP_TOLERANCE = 0.01


@dataclass(frozen=True)
class DicomSeries:
    """The files of one series of one patient, known by anonymous ids only.

    Attributes:
        patient: anonymous patient id (12 hex digits).
        series: anonymous series id (12 hex digits).
        files: the series' files in anatomical order (see the module doc).
    """

    patient: str
    series: str
    files: tuple[Path, ...]


def anonymise(headers: Sequence[DicomHeader]) -> tuple[list[str], list[str]]:
    """Anonymous (patient id, series id) of every header.

    The HMAC key is a digest of all study and series UIDs in ``headers`` (see the module doc).
    A file without PatientID is hashed with the empty PatientID like any other value, so such
    files share one anonymous patient.

    Returns:
        (patients, series): two lists of 12-hex-digit ids, aligned with ``headers``.
    """
    uids = sorted({h.study for h in headers} | {h.series for h in headers})
    key = hashlib.sha256("\0".join(["medganbench-dicom-v1", *uids]).encode()).digest()

    def tag(*parts: str) -> str:
        return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:12]

    return [tag("patient", h.patient) for h in headers], [
        tag("series", h.patient, h.study, h.series) for h in headers
    ]


def slice_order(path: Path, header: DicomHeader) -> tuple[float, float, str, str]:
    """Sort key of a file within its series: (position, instance, file name, path), with a
    missing position or instance as +inf."""
    position = header.position if header.position is not None else float("inf")
    instance = float(header.instance) if header.instance is not None else float("inf")
    return position, instance, path.name, str(path)


def group_series(files: Sequence[Path], headers: Sequence[DicomHeader]) -> list[DicomSeries]:
    """The files grouped by (anonymous patient, anonymous series), sorted by those ids, each
    series' files in anatomical order (:func:`slice_order`).

    Args:
        files: the files; ``headers[i]`` is the header of ``files[i]``.
        headers: their headers (:func:`~medganbench.data.dicom_files.read_header`); the
            anonymous ids are keyed by all of them, so group every file of a tree at once.
    """
    if len(files) != len(headers):
        raise ValueError(f"{len(files)} files but {len(headers)} headers")
    patients, series = anonymise(headers)
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(patients, series, strict=True)):
        members[key].append(i)
    return [
        DicomSeries(
            patient,
            serie,
            tuple(files[i] for i in sorted(found, key=lambda i: slice_order(files[i], headers[i]))),
        )
        for (patient, serie), found in sorted(members.items())
    ]


def assemble_series(
    files: Sequence[Path], *, rescale: bool
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """One series read into a float32 volume, its geometry checked first.

    Every header is read and checked before any pixel is decoded: the slices must have one
    size, one orientation (ImageOrientationPatient within :data:`ORIENTATION_TOLERANCE`) and one
    PixelSpacing; no two may share a position, and the gaps between them must be even (within
    :data:`GAP_TOLERANCE` of their median; an uneven gap is a missing slice); the volume must be
    within the pixel limit. Then each file is decoded straight into its planes of one volume, so
    memory peaks at the volume plus one file's pixels.

    Without position tags (ImagePositionPatient and ImageOrientationPatient) the order is
    InstanceNumber, then file name, and the slice spacing comes from SpacingBetweenSlices, else
    SliceThickness, else 1 mm; so it does for a single file, and for a series holding a
    multi-frame file (whose frames have no position each). Without PixelSpacing the in-plane
    spacing is 1 mm.

    Args:
        files: the files of one series (:class:`DicomSeries` ``.files``), in any order.
        rescale: as :func:`~medganbench.data.dicom_files.read_pixels` (``True`` for CT in HU).

    Returns:
        (volume, spacing): the volume indexed (x, y, z) = (column, row, slice), a view whose
        planes ``volume[:, :, k]`` are contiguous in memory; the voxel spacing (column, row,
        slice) in mm.

    Raises:
        DicomFileError: a file is unusable (the message starts with its file name), or the
            series' geometry is inconsistent; the message never holds a header value.
    """
    if not files:
        raise DicomFileError("no DICOM file in the series")
    headers = [_named(path, read_header) for path in files]
    order = sorted(range(len(files)), key=lambda i: slice_order(files[i], headers[i]))
    paths, hs = [files[i] for i in order], [headers[i] for i in order]
    _check_planes(hs)
    rows, columns, planes = hs[0].rows, hs[0].columns, sum(h.frames for h in hs)
    # The whole volume's size, from the headers, before one pixel is decoded.
    if oversize(columns, rows, planes) is not None:
        raise DicomFileError(
            f"refused: the series holds more voxels than the limit ({max_image_side()} pixels "
            f"a side, 16 such slices in all; {MAX_SIDE_ENV})"
        )
    spacing_z = _slice_spacing(hs)
    stack = np.empty((planes, rows, columns), np.float32)
    start = 0
    for path, h in zip(paths, hs, strict=True):
        slab = stack[start : start + h.frames]
        _named(path, partial(read_pixels_into, out=slab, rescale=rescale))
        start += h.frames
    row_spacing, column_spacing = hs[0].pixel_spacing or (1.0, 1.0)
    return stack.transpose(2, 1, 0), (column_spacing, row_spacing, spacing_z)


def _named(path: Path, read: Callable[[Path], DicomHeader]) -> DicomHeader:
    """``read(path)``, with a :class:`DicomFileError`'s message prefixed by the file name."""
    try:
        return read(path)
    except DicomFileError as exc:
        raise DicomFileError(f"{path.name}: {exc.message}") from None


def _check_planes(headers: Sequence[DicomHeader]) -> None:
    """Refuse slices of different sizes, orientations or pixel spacings, and a series where
    only some slices have a position (their order would be meaningless)."""
    first = headers[0]
    for h in headers[1:]:
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise DicomFileError("the DICOM series has slices of different sizes")
        if (h.position is None) != (first.position is None):
            raise DicomFileError(
                "some slices of the DICOM series have a position and others do not"
            )
        if not _close(h.orientation, first.orientation, 0.0, ORIENTATION_TOLERANCE):
            raise DicomFileError("the DICOM series has slices of different orientations")
        if not _close(h.pixel_spacing, first.pixel_spacing, SPACING_TOLERANCE, 0.0):
            raise DicomFileError("the DICOM series has slices of different pixel spacings")


def _close(
    a: tuple[float, ...] | None, b: tuple[float, ...] | None, rtol: float, atol: float
) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _slice_spacing(headers: Sequence[DicomHeader]) -> float:
    """The distance between slices (mm), from their positions where every slice has one.

    ``headers`` are in anatomical order. Refuses two slices at one position, or uneven gaps.
    """
    known = [h.position for h in headers if h.position is not None]
    if len(known) >= 2 and all(h.frames == 1 for h in headers):
        gaps = np.diff(np.asarray(known, np.float64))
        if gaps.min() < SAME_POSITION:
            raise DicomFileError(
                "two slices of the DICOM series are at the same position (two series mixed, "
                "or a duplicate file)"
            )
        median = float(np.median(gaps))
        if np.abs(gaps - median).max() > GAP_TOLERANCE * median:
            raise DicomFileError(
                "the slices of the DICOM series are unevenly spaced (a slice may be missing)"
            )
        return median
    first = headers[0]
    for value in (first.slice_spacing, first.slice_thickness):
        if value is not None and value > 0:
            return value
    return 1.0
