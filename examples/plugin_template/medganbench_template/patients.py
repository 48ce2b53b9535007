"""Template: a dataset of your own NIfTI patients, declared on medganbench's data toolkit.

Layout: ``ROOT/<patient>/t1.nii.gz`` and ``t2.nii.gz`` (co-registered, one grid), and optionally
``seg.nii.gz`` (0 background, 1 lesion). T1 → T2 is a paired translation. Copy this file, change
the layout in ``patients`` and the declarations below; the toolkit (``medganbench.data``) finds
the root (``--dataset-arg root=DIR``, ``--data-dir``, ``MEDGANBENCH_DATA_TEMPLATE_PATIENTS``),
reads each volume once with its size checked before decoding, refuses links out of the root,
normalises MR per volume, cuts slices with masks and label maps, caches them under a hash of
every file's content, splits by patient and evaluates each test patient as a volume.
``medganbench check dataset template-patients --arg root=DIR`` checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import DatasetSpec
from medganbench.data import (
    InputProblems,
    Patient,
    VolumeDescriptor,
    anonymous_id,
    mr_domain,
    relative,
    split_params,
    subfolders,
)

NAME = "template-patients"


def patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    """One record per patient folder. Folder names may be patient names: key them by a hash."""
    found = []
    for folder in subfolders(root):
        where = relative(folder, root)
        seg = folder / "seg.nii.gz"
        images = {"a": folder / "t1.nii.gz", "b": folder / "t2.nii.gz"}
        labels = seg if seg.is_file() else None
        found.append(Patient(anonymous_id(where, NAME), where, images, labels=labels))
    return found


def domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    """Domain A is the source of the default translation, B its target."""
    return {"a": mr_domain("T1-weighted MR"), "b": mr_domain("T2-weighted MR")}


DESCRIPTOR = VolumeDescriptor(
    name=NAME,
    version="1",  # bump whenever the slices or splits it serves could change
    summary="Template: your NIfTI patients, T1 → T2 (examples/plugin_template).",
    params=(
        Param("root", "", "folder of patient folders", location=True),
        Param("percentile", 99.5, "per-volume percentile mapped to 1.0", minimum=50.0),
        *split_params("patients"),
    ),
    patients=patients,
    domains=domains,
    instructions="Put one folder per patient, holding t1.nii.gz and t2.nii.gz, under one root.",
    labels=("background", "lesion"),
    modality="MR (T1 → T2)",
)


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    return [DESCRIPTOR.spec()]
