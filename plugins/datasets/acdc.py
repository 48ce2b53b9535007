"""The ``acdc`` dataset: ACDC cardiac cine MR (short axis), one domain, split by patient.

Layout (as the challenge distributes it)::

    <root>/training/patient001/patient001_4d.nii.gz
    <root>/training/patient001/patient001_frame01.nii.gz      (end-diastole)
    <root>/training/patient001/patient001_frame12.nii.gz      (end-systole; number varies)
    <root>/training/patient001/patient001_frame01_gt.nii.gz   (segmentation of that frame)
    <root>/testing/patient101/...                             (read too, if present)

Per patient the ED/ES frame volumes are read when present (each frame is a volume, keyed
``patient001-frame01``; both stay in the patient's split), else frame 0 of the 4-D cine file.
Each volume is scaled to [0, 1] (minimum → 0, ``percentile``-th → 1) and cut into short-axis
slices across array axis 2. The frames' segmentations (``_gt``: 1 right-ventricle cavity,
2 myocardium, 3 left-ventricle cavity) are served as label classes when every frame has one.
The dataset is single-domain: the slices are both A and B with ``paired=False``, for the
unconditional track and FID/KID, and the round trips of translation models are scored per
frame volume. Patient folder names are the challenge's anonymous ids.

Version 2 (the toolkit): slices are kept by their delivered mask, the rule of every volume
dataset (version 1 judged the native plane); items say their frame volume and slice; the
segmentations are read.
"""

from __future__ import annotations

import re
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
    mr_domain,
    relative,
    root_param,
    split_params,
)

NAME = "acdc"
VERSION = "2"
SUBSETS: tuple[str, ...] = ("training", "testing")
LABELS = ("background", "right ventricle", "myocardium", "left ventricle")
_FRAME = re.compile(r"^(?P<case>patient\d+)_(?P<frame>frame\d+)\.nii(\.gz)?$")
INSTRUCTIONS = (
    "ACDC cannot be redistributed. Register at https://humanheart-project.creatis.insa-lyon.fr/database/ "
    "and download the dataset manually; unpack it so that training/ (patient001 ... patient100, and "
    "optionally testing/) is directly under one root folder."
)

PARAMS: tuple[Param, ...] = (
    root_param(NAME, "folder holding training/ (and testing/)"),
    Param("include_testing", True, "also read testing/ patients when present"),
    Param("skip_empty", True, "drop slices with no pixel above 5% of the window"),
    Param("percentile", 99.5, "per-volume percentile mapped to 1.0", minimum=50.0),
    *split_params("patients"),
)


def patient_dirs(root: Path, include_testing: bool = True) -> list[Path]:
    """``<root>/training/patient*`` (and ``testing/``), sorted."""
    subsets = SUBSETS if include_testing else SUBSETS[:1]
    return [
        p
        for subset in subsets
        if (root / subset).is_dir()
        for p in sorted((root / subset).iterdir())
        if p.is_dir() and p.name.startswith("patient")
    ]


def _volumes(root: Path, patient: Path) -> list[Patient]:
    """The patient's ED/ES frames (with their ``_gt``), else frame 0 of its 4-D cine file."""
    frames = []
    for path in sorted(patient.iterdir()):
        match = _FRAME.match(path.name)
        if match and match["case"] == patient.name:
            gt = path.with_name(path.name.replace(match["frame"], f"{match['frame']}_gt"))
            frames.append(
                Patient(
                    f"{patient.name}-{match['frame']}",
                    relative(path, root),
                    {"a": path},
                    labels=gt if gt.exists() else None,
                    group=patient.name,
                )
            )
    if frames:
        return frames
    cine = [patient / f"{patient.name}_4d.nii{ext}" for ext in (".gz", "")]
    found = [p for p in cine if p.exists()][:1] or cine[:1]  # a missing file is the problem
    return [
        Patient(
            f"{patient.name}-4d",
            relative(found[0], root),
            {"a": found[0]},
            group=patient.name,
            volume_index=0,
        )
    ]


def _patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    return [v for p in patient_dirs(root, bool(args["include_testing"])) for v in _volumes(root, p)]


def _domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    return {"a": mr_domain("cardiac cine MR")}


ACDC = VolumeDescriptor(
    name=NAME,
    version=VERSION,
    summary="ACDC cardiac cine MR slices, one domain (unconditional track, FID/KID), split by "
    "patient; heart labels.",
    params=PARAMS,
    patients=_patients,
    domains=_domains,
    pairing="single",
    instructions=INSTRUCTIONS,
    looks_valid=lambda root, args: bool(patient_dirs(root, include_testing=False)),
    labels=LABELS,
    modality="cardiac cine MR",
    size="150 patients",
)


medganbench_datasets = dataset_hook(ACDC)


__all__ = [
    "ACDC",
    "INSTRUCTIONS",
    "LABELS",
    "NAME",
    "PARAMS",
    "VERSION",
    "medganbench_datasets",
    "patient_dirs",
]
