"""The ``brats2018`` dataset: BraTS 2018 multi-parametric brain MR, split by case.

Layout (as the challenge distributes it)::

    <root>/HGG/<case>/<case>_t1.nii.gz, <case>_t1ce.nii.gz, <case>_t2.nii.gz,
                      <case>_flair.nii.gz, <case>_seg.nii.gz
    <root>/LGG/<case>/...

The four sequences of a case are co-registered and resampled to one grid, so axial slices of two
sequences show the same anatomy: ``source``→``target`` (default T1→T2) is a *paired* MR→MR
translation, evaluated per slice and per case (each case is a volume). With ``source=none`` only
the ``target`` sequence is delivered, as both A and B with ``paired=False``, for the
unconditional track and FID/KID.

Each sequence volume is scaled to [0, 1] per volume (minimum → 0, ``percentile``-th → 1).
Axial slices (array axis 2) are kept when their body mask (tissue in either sequence) is not
empty. The tumour segmentation (``_seg``: 1 necrotic and non-enhancing core, 2 peritumoral
oedema, 4 enhancing tumour) is served as label classes 0–3 when every case has one. Case names
(``Brats18_...``) are the challenge's own anonymous ids and serve as volume ids; splits are made
by case.

Version 2 (the toolkit): slices are kept by their delivered mask, the rule of every volume
dataset (version 1 judged the native plane, which could keep a slice whose resized mask was
empty); items say their case and slice; the segmentation is read.
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
    dataset_hook,
    mr_domain,
    relative,
    root_param,
    split_params,
    subfolders,
)
from medganbench.data.descriptor import Pairing
from medganbench.errors import UsageError

NAME = "brats2018"
VERSION = "2"
SEQUENCES: tuple[str, ...] = ("t1", "t1ce", "t2", "flair")
SEQUENCE_NAMES: dict[str, str] = {
    "t1": "T1-weighted MR",
    "t1ce": "contrast-enhanced T1 MR",
    "t2": "T2-weighted MR",
    "flair": "FLAIR MR",
}
GRADES: tuple[str, ...] = ("HGG", "LGG")
#: The classes of the ``_seg`` files, by index; the files store 0, 1, 2 and 4.
LABELS = (
    "background",
    "necrotic and non-enhancing tumour core",
    "peritumoral oedema",
    "enhancing tumour",
)
LABEL_VALUES = {0: 0, 1: 1, 2: 2, 4: 3}
INSTRUCTIONS = (
    "BraTS 2018 cannot be redistributed. Register and request the data at "
    "https://www.med.upenn.edu/sbia/brats2018/registration.html, download the training set "
    "manually, and unpack it so that the folders HGG/ and LGG/ (one sub-folder per case) are "
    "directly under one root folder."
)

PARAMS: tuple[Param, ...] = (
    root_param(NAME, "folder holding HGG/ and LGG/"),
    Param(
        "source",
        "t1",
        "sequence of domain A; 'none': target only (unconditional track)",
        choices=(*SEQUENCES, "none"),
    ),
    Param("target", "t2", "sequence of domain B", choices=SEQUENCES),
    Param("skip_empty", True, "drop slices with no tissue in either sequence"),
    Param("percentile", 99.5, "per-volume percentile mapped to 1.0", minimum=50.0),
    *split_params("cases"),
)


def case_dirs(root: Path) -> list[Path]:
    """Every case folder ``<root>/{HGG,LGG}/<case>``, sorted (hidden folders left out)."""
    return [
        case for grade in GRADES if (root / grade).is_dir() for case in subfolders(root / grade)
    ]


def sequence_file(case: Path, sequence: str) -> Path:
    """``<case>/<case>_<sequence>.nii.gz`` (``.nii`` if only that exists)."""
    gz = case / f"{case.name}_{sequence}.nii.gz"
    plain = case / f"{case.name}_{sequence}.nii"
    return plain if not gz.exists() and plain.exists() else gz


def _pairing(args: Mapping[str, Any]) -> Pairing:
    return "single" if args["source"] == "none" else "paired"


def _domains(args: Mapping[str, Any]) -> dict[str, DomainInfo]:
    target = mr_domain(SEQUENCE_NAMES[str(args["target"])])
    if args["source"] == "none":
        return {"a": target}
    return {"a": mr_domain(SEQUENCE_NAMES[str(args["source"])]), "b": target}


def _patients(root: Path, args: Mapping[str, Any], problems: InputProblems) -> list[Patient]:
    keys = (
        {"a": str(args["target"])}
        if args["source"] == "none"
        else {
            "a": str(args["source"]),
            "b": str(args["target"]),
        }
    )
    out = []
    for case in case_dirs(root):
        seg = sequence_file(case, "seg")
        images = {k: sequence_file(case, s) for k, s in keys.items()}
        out.append(
            Patient(case.name, relative(case, root), images, labels=seg if seg.exists() else None)
        )
    return out


def _check(args: Mapping[str, Any]) -> None:
    if args["source"] == args["target"]:
        raise UsageError(
            f"{NAME}: source and target are both {args['source']!r}.",
            hint="Pick two different sequences, or source=none.",
        )


BRATS2018 = VolumeDescriptor(
    name=NAME,
    version=VERSION,
    summary="BraTS 2018 brain MR: paired sequence translation (default T1 → T2), split by case; "
    "tumour labels.",
    params=PARAMS,
    patients=_patients,
    domains=_domains,
    pairing=_pairing,
    pairing_words="paired (source=none: unpaired)",
    instructions=INSTRUCTIONS,
    looks_valid=lambda root, args: bool(case_dirs(root)),
    labels=LABELS,
    label_values=LABEL_VALUES,
    check=_check,
    modality="MR (two of T1/T1ce/T2/FLAIR)",
    size="285 cases",
)


medganbench_datasets = dataset_hook(BRATS2018)


__all__ = [
    "BRATS2018",
    "INSTRUCTIONS",
    "LABELS",
    "NAME",
    "PARAMS",
    "SEQUENCES",
    "VERSION",
    "case_dirs",
    "medganbench_datasets",
]
