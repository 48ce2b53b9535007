"""Your own volumes by patient: ``paired-volume-folder`` and ``unpaired-volume-folder``.

``paired-volume-folder`` — one folder per patient, two co-registered volumes and an optional
body mask, names given by arguments (any format :func:`medganbench.data.read_volume` reads)::

    <root>/<patient>/<a_file>   (default mr.nii.gz)
    <root>/<patient>/<b_file>   (default ct.nii.gz)
    <root>/<patient>/<mask_file> (default mask.nii.gz; optional: else the body mask of the
                                  images)

``unpaired-volume-folder`` — an A tree and a B tree of *different* patients, each patient a
folder holding one DICOM series (or one NIfTI/MetaImage/NRRD file); the layout of the ADNI
MR/CT set of Nehra et al. (15 patients, 315 DICOM images, unpaired)::

    <root>/<a_dir>/<patient>/*.dcm   (default a_dir=MR)
    <root>/<b_dir>/<patient>/*.dcm   (default b_dir=CT)

Both are split by patient (``seed``); folder names may be patient names, so patients are keyed
by an anonymous hash of their folder path (messages name the folder, the user's own tree).
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
    is_volume_file,
    relative,
    root_param,
    split_params,
    subfolders,
)
from medganbench.data.dicom import list_dicom_files
from medganbench.errors import UsageError

PAIRED, UNPAIRED = "paired-volume-folder", "unpaired-volume-folder"
VERSION = "1"
_COMMON: tuple[Param, ...] = (
    Param("a_modality", "MR", "modality of domain A", choices=("MR", "CT")),
    Param("b_modality", "CT", "modality of domain B", choices=("MR", "CT")),
    Param("window", "", "CT window 'lo:hi' in HU; empty: -1024:3000"),
    Param("slice_axis", 2, "array axis of the slices (2: axial for NIfTI/MHA)", choices=(0, 1, 2)),
    Param("percentile", 99.5, "MR: per-volume percentile mapped to 1.0", minimum=50.0),
    *split_params("patients"),
)
PAIRED_PARAMS: tuple[Param, ...] = (
    root_param(PAIRED, "folder of patient folders"),
    Param("a_file", "mr.nii.gz", "file name of domain A in every patient folder"),
    Param("b_file", "ct.nii.gz", "file name of domain B in every patient folder"),
    Param("mask_file", "mask.nii.gz", "body-mask file name (used where present)"),
    *_COMMON,
)
UNPAIRED_PARAMS: tuple[Param, ...] = (
    root_param(UNPAIRED, "folder holding the A and B trees"),
    Param("a_dir", "MR", "sub-folder of domain A's patient folders"),
    Param("b_dir", "CT", "sub-folder of domain B's patient folders"),
    *_COMMON,
)
OWN_DATA = (
    "{name} reads your own volumes; nothing is published for it. {layout} Public data in "
    "such a layout: the SynthRAD challenges (see `medganbench datasets download "
    "synthrad2023`), licence CC BY-NC 4.0; the ADNI MR/CT scans of Nehra et al. are at "
    "https://adni.loni.usc.edu after registration, under the ADNI Data Use Agreement (no "
    "redistribution)."
)


def _domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    owner = "volume folder"
    return {k: domain_for(str(args[f"{k}_modality"]), str(args["window"]), owner) for k in "ab"}


def _paired_patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    patients = []
    for folder in subfolders(root):
        where = relative(folder, root)
        mask = folder / str(args["mask_file"])
        images = {"a": folder / str(args["a_file"]), "b": folder / str(args["b_file"])}
        patients.append(
            Patient(anonymous_id(where, PAIRED), where, images, mask if mask.is_file() else None)
        )
    return patients


def _check_paired(args: Mapping[str, Any]) -> None:
    if args["a_file"] == args["b_file"]:
        raise UsageError(f"{PAIRED}: a_file and b_file are both {args['a_file']!r}.")


def _volume_in(folder: Path) -> Path | None:
    """The patient's volume: its one volume file, else the folder (a DICOM series)."""
    files = sorted(p for p in folder.iterdir() if is_volume_file(p))
    if files:
        return files[0]
    return folder if list_dicom_files(folder)[0] else None


def _unpaired_patients(
    root: Path, args: Mapping[str, Any], problems: InputProblems
) -> list[Patient]:
    patients = []
    for k in "ab":
        tree = root / str(args[f"{k}_dir"])
        for folder in subfolders(tree) if tree.is_dir() else []:
            where = relative(folder, root)
            # A folder with nothing readable is still a patient: reading it is the problem.
            volume = _volume_in(folder) or folder
            patients.append(Patient(anonymous_id(where, UNPAIRED), where, {k: volume}))
    return patients


def _unpaired_valid(root: Path, args: Mapping[str, Any]) -> bool:
    return all((root / str(args[k])).is_dir() for k in ("a_dir", "b_dir"))


PAIRED_LAYOUT = "Layout: ROOT/<patient>/<a_file>, <b_file>[, <mask_file>]."
UNPAIRED_LAYOUT = "Layout: ROOT/<a_dir>/<patient>/, ROOT/<b_dir>/<patient>/."

PAIRED_FOLDER = VolumeDescriptor(
    name=PAIRED,
    version=VERSION,
    summary="Your paired volumes, one folder per patient (NIfTI/MHA/NRRD, optional mask); "
    "per-patient evaluation.",
    params=PAIRED_PARAMS,
    patients=_paired_patients,
    domains=_domains,
    instructions=OWN_DATA.format(name=PAIRED, layout=PAIRED_LAYOUT),
    looks_valid=lambda root, args: any(
        (p / str(args["a_file"])).is_file() for p in subfolders(root)
    ),
    check=_check_paired,
    modality="two of MR/CT (volumes)",
    downloadable=True,
)
UNPAIRED_FOLDER = VolumeDescriptor(
    name=UNPAIRED,
    version=VERSION,
    summary="Your unpaired A and B trees of DICOM series or volumes, by patient (e.g. ADNI MR/CT).",
    params=UNPAIRED_PARAMS,
    patients=_unpaired_patients,
    domains=_domains,
    pairing="unpaired",
    instructions=OWN_DATA.format(name=UNPAIRED, layout=UNPAIRED_LAYOUT),
    looks_valid=_unpaired_valid,
    modality="two of MR/CT (volumes)",
    downloadable=True,
)


medganbench_datasets = dataset_hook(PAIRED_FOLDER, UNPAIRED_FOLDER)


__all__ = [
    "PAIRED",
    "PAIRED_FOLDER",
    "UNPAIRED",
    "UNPAIRED_FOLDER",
    "medganbench_datasets",
]
