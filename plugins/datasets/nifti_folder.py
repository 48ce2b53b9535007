"""``nifti-folder``: slices of a folder of NIfTI volumes, one domain.

Every file under the root (sub-folders searched) whose name matches ``pattern`` is one volume:
MR scaled to [0, 1] per volume, CT in HU (``window``). Slices are taken in array order across
``slice_axis``; they are not reoriented to a display convention, and voxel spacing is ignored
(an anisotropic slice is resized as if its voxels were square). The slices are delivered as A
and B with ``paired=False`` (B shifted by whole volumes), for the unconditional track and
FID/KID; translation models' round trips are scored per volume. Volumes are keyed by a hash of
the file's relative path, so file names (often patient names) never reach a split record or a
log.

Version 2 (the toolkit): slices are kept by their delivered mask, the rule of every volume
dataset (version 1 judged the native plane); NaN/inf voxels are refused (strict) or counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DomainInfo
from medganbench.core.params import Param
from medganbench.data import (
    InputProblems,
    Patient,
    VolumeDescriptor,
    anonymous_id,
    dataset_hook,
    domain_for,
    list_files,
    relative,
    root_param,
    split_params,
)

NAME = "nifti-folder"
VERSION = "2"

PARAMS: tuple[Param, ...] = (
    root_param(NAME, "folder of NIfTI files (searched recursively)"),
    Param("pattern", "*.nii*", "file name pattern (fnmatch) of the volumes"),
    Param("modality", "MR", "modality of the volumes", choices=("MR", "CT")),
    Param("slice_axis", 2, "array axis the 2-D slices are taken across", choices=(0, 1, 2)),
    Param(
        "volume_index",
        -1,
        "index along the 4th axis of 4-D files; -1: files must be 3-D",
        minimum=-1,
    ),
    Param("skip_empty", True, "drop slices with no pixel above 5% of the window"),
    Param("percentile", 99.5, "MR: per-volume percentile mapped to 1.0", minimum=50.0),
    Param("window", "", "CT window 'lo:hi' in HU (',' also accepted); empty: -1024:3000"),
    *split_params("volumes"),
)


def _patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    out = []
    for path in list_files(root, str(args["pattern"]), problems):
        where = relative(path, root)
        out.append(
            Patient(
                anonymous_id(where, NAME),
                where,
                {"a": path},
                volume_index=int(args["volume_index"]),
            )
        )
    return out


def _domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    return {"a": domain_for(str(args["modality"]), str(args["window"]), NAME)}


NIFTI_FOLDER = VolumeDescriptor(
    name=NAME,
    version=VERSION,
    summary="Slices of a folder of NIfTI volumes (one domain: unconditional track, FID/KID).",
    params=PARAMS,
    patients=_patients,
    domains=_domains,
    pairing="single",
    instructions="Put your .nii/.nii.gz volumes in one folder (sub-folders are searched).",
    modality="MR or CT",
)


medganbench_datasets = dataset_hook(NIFTI_FOLDER)


__all__ = ["NAME", "NIFTI_FOLDER", "PARAMS", "VERSION", "medganbench_datasets"]
