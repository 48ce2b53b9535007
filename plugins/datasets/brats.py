"""The ``brats2018`` dataset: BraTS 2018 multi-parametric brain MR, split by case.

Layout (as the challenge distributes it)::

    <root>/HGG/<case>/<case>_t1.nii.gz, <case>_t1ce.nii.gz, <case>_t2.nii.gz, <case>_flair.nii.gz
    <root>/LGG/<case>/...

The four sequences of a case are co-registered and resampled to one grid, so axial slices of two
sequences show the same anatomy: ``source``→``target`` (default T1→T2) is a *paired* MR→MR
translation. With ``source=none`` only the ``target`` sequence is delivered, as both A and B with
``paired=False``, for the unconditional track and FID/KID.

Each sequence volume is scaled to [0, 1] per volume (minimum → 0, ``percentile``-th → 1). Axial
slices (array axis 2) are kept when either sequence has tissue (see
:func:`~medganbench_plugins.datasets.nifti_volumes.is_empty`). Case names (``Brats18_...``) are
the challenge's own anonymous ids and serve as group ids; splits are made by case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from medganbench.core.dataset import DatasetContext
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root, locate_root
from medganbench.errors import UsageError
from medganbench_plugins.datasets.nifti_volumes import (
    MR_WINDOW,
    Built,
    VolumeError,
    build_dataset,
    check_percentile,
    fingerprint_extra,
    is_empty,
    load_volume,
    mr_domain,
    payload_problems,
    percentile_normalise,
    relative,
    split_ratios,
    square_slice,
)
from medganbench_plugins.datasets.slices import (
    InputProblems,
    SliceDataset,
    cached,
    files_fingerprint,
    group_split_params,
    stack,
)

NAME = "brats2018"
VERSION = "1"
SEQUENCES: tuple[str, ...] = ("t1", "t1ce", "t2", "flair")
SEQUENCE_NAMES: dict[str, str] = {
    "t1": "T1-weighted MR",
    "t1ce": "contrast-enhanced T1 MR",
    "t2": "T2-weighted MR",
    "flair": "FLAIR MR",
}
GRADES: tuple[str, ...] = ("HGG", "LGG")
#: Axial slices are across the third array axis of the BraTS volumes.
SLICE_AXIS = 2
INSTRUCTIONS = (
    "BraTS 2018 cannot be redistributed. Register and request the data at "
    "https://www.med.upenn.edu/sbia/brats2018/registration.html, download the training set "
    "manually, and unpack it so that the folders HGG/ and LGG/ (one sub-folder per case) are "
    "directly under one root folder."
)

PARAMS: tuple[Param, ...] = (
    Param(
        "root",
        "",
        "folder holding HGG/ and LGG/; empty: --data-dir, MEDGANBENCH_DATA_BRATS2018 "
        "or the cache directory",
        location=True,
    ),
    Param(
        "source",
        "t1",
        "sequence of domain A; 'none': target only (unconditional track)",
        choices=(*SEQUENCES, "none"),
    ),
    Param("target", "t2", "sequence of domain B", choices=SEQUENCES),
    Param("skip_empty", True, "drop slices with no tissue in either sequence"),
    Param("percentile", 99.5, "per-volume percentile mapped to 1.0", minimum=50.0),
    *group_split_params("cases"),
)


def is_paired(args: Mapping[str, Any]) -> bool:
    """Two sequences of one case are paired; one sequence alone (``source=none``) is not."""
    return str(args["source"]) != "none"


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``brats2018``."""
    return [
        DatasetSpec(
            name=NAME,
            summary="BraTS 2018 brain MR: paired sequence translation (default T1 → T2), split by case.",
            version=VERSION,
            factory="medganbench_plugins.datasets.brats:Brats2018",
            params=PARAMS,
            modality="MR (two of T1/T1ce/T2/FLAIR)",
            pairing="paired (source=none: unpaired)",
            paired=f"{__name__}:is_paired",
            size="285 cases",
            locate="medganbench_plugins.datasets.brats:locate",
        )
    ]


def case_dirs(root: Path) -> list[Path]:
    """Every case folder ``<root>/{HGG,LGG}/<case>``, sorted (hidden folders left out)."""
    return [
        case
        for grade in GRADES
        if (root / grade).is_dir()
        for case in sorted((root / grade).iterdir())
        if case.is_dir() and not case.name.startswith(".")
    ]


def looks_valid(root: Path) -> bool:
    """Whether ``root`` has HGG/ or LGG/ with at least one case folder."""
    return bool(case_dirs(root))


def sequence_file(case: Path, sequence: str) -> Path:
    """``<case>/<case>_<sequence>.nii.gz`` (``.nii`` if only that exists)."""
    gz = case / f"{case.name}_{sequence}.nii.gz"
    plain = case / f"{case.name}_{sequence}.nii"
    return plain if not gz.exists() and plain.exists() else gz


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The BraTS root if present locally, else ``None``."""
    resolved = resolve_args(PARAMS, args, NAME)
    return locate_root(NAME, ctx, looks_valid, str(resolved["root"]))


def _root(args: Mapping[str, Any], ctx: DatasetContext) -> Path:
    return find_root(NAME, ctx, looks_valid, INSTRUCTIONS, str(args["root"]))


def Brats2018(args: Mapping[str, Any], ctx: DatasetContext) -> SliceDataset:
    """Build ``brats2018`` (factory called by the runner).

    Raises:
        UsageError: an argument is invalid (e.g. ``source`` equals ``target``).
        DataError: the root is missing (the hint says how to get the data), a case lacks a
            sequence or has a bad file in strict mode, or no slice is usable.
    """
    resolved = resolve_args(PARAMS, args, NAME)
    source, target = str(resolved["source"]), str(resolved["target"])
    if source == target:
        raise UsageError(
            f"{NAME}: source and target are both {source!r}.",
            hint="Pick two different sequences, or source=none.",
        )
    check_percentile(float(resolved["percentile"]), NAME)
    ratios = split_ratios(float(resolved["val_fraction"]), float(resolved["test_fraction"]), NAME)
    root = _root(resolved, ctx)
    cases = case_dirs(root)
    sequences = (target,) if source == "none" else (source, target)
    files = [p for case in cases for s in sequences if (p := sequence_file(case, s)).exists()]
    size = int(ctx.image_size)
    fingerprint = files_fingerprint(files, root, fingerprint_extra(NAME, VERSION, resolved, size))
    key = {"dataset": NAME, "root": str(root.resolve()), "fingerprint": fingerprint}
    payload = cached(
        Path(ctx.cache_dir) / "slices",
        key,
        lambda: _read_cases(cases, root, sequences, resolved, size),
    )
    payload_problems(payload, NAME)
    b_domain = mr_domain(SEQUENCE_NAMES[target])
    groups = list(payload["groups"])
    if source == "none":
        built = Built(a=payload["b"], b=None, groups=groups)
        domains = (b_domain, b_domain)
    else:
        built = Built(a=payload["a"], b=payload["b"], groups=groups)
        domains = (mr_domain(SEQUENCE_NAMES[source]), b_domain)
    return build_dataset(built, domains, ratios, int(resolved["seed"]), size, fingerprint)


class _CaseProblem(Exception):
    """A case cannot be used: ``where`` (relative path) and ``reason`` go to InputProblems."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


def _read_cases(
    cases: Sequence[Path], root: Path, sequences: Sequence[str], args: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """Slices of every case; ``sequences`` is (target,) or (source, target)."""
    problems = InputProblems(strict=bool(args["strict"]))
    a: list[torch.Tensor] = []
    b: list[torch.Tensor] = []
    groups: list[str] = []
    for case in cases:
        try:
            pairs = _case_slices(case, root, sequences, args, size)
        except _CaseProblem as exc:
            problems.add(exc.where, exc.reason)
            continue
        for first, last in pairs:
            a.append(first)
            b.append(last)
        groups += [case.name] * len(pairs)
    return {
        "a": stack(a, 1, size),
        "b": stack(b, 1, size),
        "groups": groups,
        "problems": [list(p) for p in problems.problems],
    }


def _case_slices(
    case: Path, root: Path, sequences: Sequence[str], args: Mapping[str, Any], size: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(A, B) slice pairs of one case (A is B when only the target is read).

    Raises:
        _CaseProblem: a sequence file is missing or unreadable, or the grids differ.
    """
    volumes = []
    for sequence in sequences:
        path = sequence_file(case, sequence)
        where = relative(path, root)
        if not path.exists():
            raise _CaseProblem(where, f"missing {sequence} file of the case")
        try:
            volume = load_volume(path)
        except VolumeError as exc:
            raise _CaseProblem(where, exc.message) from None
        volumes.append(percentile_normalise(volume, float(args["percentile"])))
    if volumes[0].shape != volumes[-1].shape:
        raise _CaseProblem(relative(case, root), "sequences of the case have different grids")
    out = []
    for i in range(volumes[-1].shape[SLICE_AXIS]):
        planes = [v[:, :, i] for v in volumes]
        if bool(args["skip_empty"]) and all(is_empty(p, MR_WINDOW) for p in planes):
            continue
        resized = [square_slice(p, size) for p in planes]
        out.append((resized[0], resized[-1]))
    return out


__all__ = [
    "INSTRUCTIONS",
    "NAME",
    "PARAMS",
    "SEQUENCES",
    "VERSION",
    "Brats2018",
    "case_dirs",
    "locate",
    "looks_valid",
    "medganbench_datasets",
]
