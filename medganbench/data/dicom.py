"""DICOM for dataset plugins: files listed, read safely, grouped into anonymous series and
assembled into checked volumes. This module is the public face; the work is done in

* :mod:`~medganbench.data.dicom_files` — one file: its header without its pixels
  (:func:`read_header`), then its pixels (:func:`read_pixels`), each refusing hostile or
  broken files with one :class:`DicomFileError` before anything is decoded;
  :mod:`~medganbench.data.dicom_header` — what a header declares (:class:`DicomHeader`);
* :mod:`~medganbench.data.dicom_deflate` and :mod:`~medganbench.data.dicom_codestreams` — the
  deflated syntax inflated in bounded steps, compressed frames checked against the header;
* :mod:`~medganbench.data.dicom_series` — anonymous ids (:func:`anonymise`), grouping
  (:func:`group_series`) and volumes (:func:`assemble_series`).

Layout: any folder tree; every non-hidden file whose name ends in ``.dcm``, ``.dicom``, ``.ima``,
has no suffix, or a numeric one (UID-like names) is a candidate; ``DICOMDIR`` is not.

Messages never hold a header value: no PatientID, UID, name, date or geometry. Raw identifiers
live only in :class:`DicomHeader` fields hidden from ``repr``.
"""

from __future__ import annotations

from pathlib import Path

from medganbench.data.dicom_files import (
    read_header,
    read_pixels,
    read_pixels_into,
)
from medganbench.data.dicom_header import DicomFileError, DicomHeader
from medganbench.data.dicom_series import (
    DicomSeries,
    anonymise,
    assemble_series,
    group_series,
    slice_order,
)

#: Suffixes read as DICOM besides "none" and numeric ones.
DICOM_SUFFIXES: frozenset[str] = frozenset({".dcm", ".dicom", ".ima"})


def is_dicom_candidate(path: Path) -> bool:
    """Whether the file name suggests DICOM: ``.dcm``, ``.dicom``, ``.ima``, no suffix or a
    numeric one (UID-like names); ``DICOMDIR`` is an index, not an image."""
    if path.name.upper() == "DICOMDIR":
        return False
    suffix = path.suffix.lower()
    return suffix in DICOM_SUFFIXES or suffix == "" or suffix[1:].isdigit()


def list_dicom_files(root: Path, exclude: Path | None = None) -> tuple[list[Path], int]:
    """(candidate files sorted, number of other files ignored) under ``root``.

    Hidden files and folders (``.name``, ``__MACOSX``) and anything under ``exclude`` (a cache
    directory inside the tree) are left out and not counted.
    """
    files, ignored = [], 0
    excluded = Path(exclude).resolve() if exclude is not None else None
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if not path.is_file() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if excluded is not None and path.resolve().is_relative_to(excluded):
            continue
        if is_dicom_candidate(path):
            files.append(path)
        else:
            ignored += 1
    return files, ignored


__all__ = [
    "DICOM_SUFFIXES",
    "DicomFileError",
    "DicomHeader",
    "DicomSeries",
    "anonymise",
    "assemble_series",
    "group_series",
    "is_dicom_candidate",
    "list_dicom_files",
    "read_header",
    "read_pixels",
    "read_pixels_into",
    "slice_order",
]
