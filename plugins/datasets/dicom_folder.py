"""``dicom-folder``: a DICOM folder tree, one domain, split by anonymous patient.

Any folder tree: every non-hidden file whose name ends in ``.dcm``, ``.dicom``, ``.ima``, has no
suffix, or a numeric one (UID-like names) is read; other files and ``DICOMDIR`` are ignored.
Files of another Modality (RTSTRUCT, SR, or MR in a CT set) are skipped and counted. Each series
is one volume (:func:`medganbench.data.dicom_series.assemble_series`: geometry checked, slices
in anatomical order) keyed by an anonymous series id; patients are anonymous ids too (HMAC of
PatientID keyed by the tree's UIDs), so no header value reaches a split record, a log or a row.
CT is in HU (RescaleSlope/RescaleIntercept); MR is scaled to [0, 1] per series. The slices are
delivered as A and B with ``paired=False``: the unconditional track and FID/KID.

Version 2 (the toolkit): each series is read as a volume, MR normalised on the series' native
voxels (version 1 normalised the resized slices), slices in the volume's (x, y) orientation as
every other volume format (version 1 kept each frame's rows and columns), empty slices left out
(``skip_empty``), and the series' geometry checked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DomainInfo
from medganbench.core.params import Param
from medganbench.data import (
    InputProblems,
    Patient,
    VolumeDescriptor,
    dataset_hook,
    domain_for,
    relative,
    root_param,
    split_params,
)
from medganbench.data.dicom import (
    DicomFileError,
    DicomHeader,
    group_series,
    list_dicom_files,
    read_header,
)

log = logging.getLogger(__name__)

NAME = "dicom-folder"
VERSION = "2"

PARAMS: tuple[Param, ...] = (
    root_param(NAME, "folder tree of DICOM files"),
    Param(
        "modality",
        "CT",
        "modality to read (files of other modalities are skipped)",
        choices=("CT", "MR"),
    ),
    Param(
        "window",
        "",
        "CT window 'lo:hi' in HU (',' also accepted); empty: -1024:3000. MR is always 0:1",
    ),
    Param("percentile", 99.5, "MR: per-series percentile mapped to 1.0", minimum=50.0),
    Param("skip_empty", True, "drop slices with no pixel above 5% of the window"),
    *split_params("patients"),
)


def _files(root: Path, args: Mapping[str, Any]) -> list[Path]:
    files, ignored = list_dicom_files(root)
    if ignored:
        log.info("%s: ignored %d file(s) whose names are not DICOM-like.", NAME, ignored)
    return files


def _patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    """One volume per series; the headers of every file are read to group them."""
    files: list[Path] = []
    headers: list[DicomHeader] = []
    other = 0
    for path in _files(root, args):
        try:
            header = read_header(path)
        except DicomFileError as exc:
            problems.add(relative(path, root), exc.message)
            continue
        if header.modality and header.modality != args["modality"]:
            other += 1
            continue
        files.append(path)
        headers.append(header)
    if other:
        log.info(
            "%s: skipped %d file(s) of another modality than %s.", NAME, other, args["modality"]
        )
    return [
        Patient(
            key=series.series,
            where=relative(series.files[0].parent, root),
            images={"a": tuple(series.files)},
            group=series.patient,
        )
        for series in group_series(files, headers)
    ]


def _domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    return {"a": domain_for(str(args["modality"]), str(args["window"]), NAME)}


DICOM_FOLDER = VolumeDescriptor(
    name=NAME,
    version=VERSION,
    summary="Slices of a DICOM folder tree, split by anonymised patient (one domain: "
    "unconditional track, FID/KID).",
    params=PARAMS,
    patients=_patients,
    domains=_domains,
    pairing="single",
    instructions="Copy or link your DICOM export (any folder tree of .dcm files) into one folder.",
    looks_valid=lambda root, args: bool(list_dicom_files(root)[0]),
    files=_files,
    modality="CT or MR",
)


medganbench_datasets = dataset_hook(DICOM_FOLDER)


__all__ = ["DICOM_FOLDER", "NAME", "PARAMS", "VERSION", "medganbench_datasets"]
