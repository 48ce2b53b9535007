"""The ``acdc`` dataset: ACDC cardiac cine MR (short axis), one domain, split by patient.

Layout (as the challenge distributes it)::

    <root>/training/patient001/patient001_4d.nii.gz
    <root>/training/patient001/patient001_frame01.nii.gz      (end-diastole)
    <root>/training/patient001/patient001_frame12.nii.gz      (end-systole; number varies)
    <root>/training/patient001/patient001_frame01_gt.nii.gz   (segmentations: not read)
    <root>/testing/patient101/...                             (read too, if present)

Per patient the ED/ES frame volumes are read when present, else frame 0 of the 4-D cine file.
Each volume is scaled to [0, 1] (minimum → 0, ``percentile``-th → 1) and cut into short-axis
slices across array axis 2. The dataset is single-domain: the slices are both A and B with
``paired=False``, for the unconditional track and FID/KID (translation needs two domains).
Patient folder names are the challenge's anonymous ids and serve as group ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root, locate_root
from medganbench_plugins.datasets.nifti_volumes import (
    MR_WINDOW,
    Built,
    VolumeError,
    build_dataset,
    check_percentile,
    fingerprint_extra,
    load_volume,
    mr_domain,
    payload_problems,
    percentile_normalise,
    relative,
    split_ratios,
    volume_slices,
)
from medganbench_plugins.datasets.slices import (
    InputProblems,
    SliceDataset,
    cached,
    files_fingerprint,
    group_split_params,
    stack,
)

NAME = "acdc"
VERSION = "1"
SUBSETS: tuple[str, ...] = ("training", "testing")
#: Short-axis slices are across the third array axis.
SLICE_AXIS = 2
_FRAME = re.compile(r"^(?P<case>patient\d+)_frame\d+\.nii(\.gz)?$")
INSTRUCTIONS = (
    "ACDC cannot be redistributed. Register at https://humanheart-project.creatis.insa-lyon.fr/database/ "
    "and download the dataset manually; unpack it so that training/ (patient001 ... patient100, and "
    "optionally testing/) is directly under one root folder."
)

PARAMS: tuple[Param, ...] = (
    Param(
        "root",
        "",
        "folder holding training/ (and testing/); empty: --data-dir, MEDGANBENCH_DATA_ACDC "
        "or the cache directory",
        location=True,
    ),
    Param("include_testing", True, "also read testing/ patients when present"),
    Param("skip_empty", True, "drop slices with no pixel above 5% of the window"),
    Param("percentile", 99.5, "per-volume percentile mapped to 1.0", minimum=50.0),
    *group_split_params("patients"),
)


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``acdc``."""
    return [
        DatasetSpec(
            name=NAME,
            summary="ACDC cardiac cine MR slices, one domain (unconditional track, FID/KID), split by patient.",
            version=VERSION,
            factory="medganbench_plugins.datasets.acdc:Acdc",
            params=PARAMS,
            modality="cardiac cine MR",
            pairing="unpaired",
            size="150 patients",
            locate="medganbench_plugins.datasets.acdc:locate",
        )
    ]


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


def looks_valid(root: Path) -> bool:
    """Whether ``root/training`` holds at least one patient folder."""
    return bool(patient_dirs(root, include_testing=False))


def volume_files(patient: Path) -> list[tuple[Path, int]]:
    """(file, volume_index) to read for one patient: the ED/ES frames, else frame 0 of the 4-D file.

    Segmentation files (``*_gt.nii.gz``) are never read. An empty list means neither exists.
    """
    frames = sorted(
        p
        for p in patient.iterdir()
        if _FRAME.match(p.name) and _FRAME.match(p.name)["case"] == patient.name
    )
    if frames:
        return [(p, -1) for p in frames]
    cine = [patient / f"{patient.name}_4d.nii{ext}" for ext in (".gz", "")]
    return [(p, 0) for p in cine if p.exists()][:1]


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The ACDC root if present locally, else ``None``."""
    resolved = resolve_args(PARAMS, args, NAME)
    return locate_root(NAME, ctx, looks_valid, str(resolved["root"]))


def _root(args: Mapping[str, Any], ctx: DatasetContext) -> Path:
    return find_root(NAME, ctx, looks_valid, INSTRUCTIONS, str(args["root"]))


def Acdc(args: Mapping[str, Any], ctx: DatasetContext) -> SliceDataset:
    """Build ``acdc`` (factory called by the runner).

    Raises:
        UsageError: an argument is invalid.
        DataError: the root is missing (the hint says how to get the data), a patient has no
            image file or a bad one in strict mode, or no slice is usable.
    """
    resolved = resolve_args(PARAMS, args, NAME)
    check_percentile(float(resolved["percentile"]), NAME)
    ratios = split_ratios(float(resolved["val_fraction"]), float(resolved["test_fraction"]), NAME)
    root = _root(resolved, ctx)
    patients = patient_dirs(root, bool(resolved["include_testing"]))
    files = [path for patient in patients for path, _ in volume_files(patient)]
    size = int(ctx.image_size)
    fingerprint = files_fingerprint(files, root, fingerprint_extra(NAME, VERSION, resolved, size))
    key = {"dataset": NAME, "root": str(root.resolve()), "fingerprint": fingerprint}
    payload = cached(
        Path(ctx.cache_dir) / "slices", key, lambda: _read_patients(patients, root, resolved, size)
    )
    payload_problems(payload, NAME)
    domain = mr_domain("cardiac cine MR")
    built = Built(a=payload["a"], b=None, groups=list(payload["groups"]))
    return build_dataset(built, (domain, domain), ratios, int(resolved["seed"]), size, fingerprint)


def _read_patients(
    patients: Sequence[Path], root: Path, args: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """Slices of every patient's volumes; bad or missing files go to :class:`InputProblems`."""
    problems = InputProblems(strict=bool(args["strict"]))
    slices: list[torch.Tensor] = []
    groups: list[str] = []
    for patient in patients:
        sources = volume_files(patient)
        if not sources:
            problems.add(relative(patient, root), "no frame or 4-D cine file")
            continue
        for path, index in sources:
            try:
                volume = percentile_normalise(load_volume(path, index), float(args["percentile"]))
            except VolumeError as exc:
                problems.add(relative(path, root), exc.message)
                continue
            cut = volume_slices(volume, SLICE_AXIS, size, MR_WINDOW, bool(args["skip_empty"]))
            slices += cut
            groups += [patient.name] * len(cut)
    return {
        "a": stack(slices, 1, size),
        "groups": groups,
        "problems": [list(p) for p in problems.problems],
    }


__all__ = [
    "INSTRUCTIONS",
    "NAME",
    "PARAMS",
    "VERSION",
    "Acdc",
    "locate",
    "looks_valid",
    "medganbench_datasets",
    "patient_dirs",
    "volume_files",
]
