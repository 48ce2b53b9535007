"""Your own volumes by patient: ``paired-volume-folder`` and ``unpaired-volume-folder``.

``paired-volume-folder`` — one folder per patient, two co-registered volumes and an optional
body mask, names given by arguments (NIfTI ``.nii``/``.nii.gz`` or MetaImage ``.mha``/``.mhd``)::

    <root>/<patient>/<a_file>   (default mr.nii.gz)
    <root>/<patient>/<b_file>   (default ct.nii.gz)
    <root>/<patient>/<mask_file> (default mask.nii.gz; optional: else the body mask of the
                                  images)

``unpaired-volume-folder`` — an A tree and a B tree of *different* patients, each patient a
folder holding one DICOM series (or one NIfTI/MetaImage file); the layout of the ADNI MR/CT set
of Nehra et al. (15 patients, 315 DICOM images, unpaired)::

    <root>/<a_dir>/<patient>/*.dcm   (default a_dir=MR)
    <root>/<b_dir>/<patient>/*.dcm   (default b_dir=CT)

Both are split by patient (``seed``); folder names may be patient names, so patients are keyed
by an anonymous hash of their folder path (messages name the folder, the user's own tree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medganbench.core.dataset import DatasetContext, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root
from medganbench.errors import DataError, UsageError
from medganbench_plugins.datasets.dicom_series import list_dicom_files
from medganbench_plugins.datasets.nifti_volumes import (
    CT_WINDOW,
    anonymous_id,
    check_percentile,
    ct_domain,
    fingerprint_extra,
    mr_domain,
    parse_window,
    payload_problems,
    relative,
    split_ratios,
)
from medganbench_plugins.datasets.slices import (
    SliceDataset,
    cached,
    files_fingerprint,
    group_split_params,
)
from medganbench_plugins.datasets.volume_native import load_paired_patients
from medganbench_plugins.datasets.volume_pairs import (
    PatientFiles,
    VolumeDataset,
    build_unpaired_dataset,
)
from medganbench_plugins.datasets.volume_pairs import read_patients as read

PAIRED, UNPAIRED = "paired-volume-folder", "unpaired-volume-folder"
VERSION = "1"
_VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd")
_COMMON: tuple[Param, ...] = (
    Param("a_modality", "MR", "modality of domain A", choices=("MR", "CT")),
    Param("b_modality", "CT", "modality of domain B", choices=("MR", "CT")),
    Param("window", "", "CT window 'lo:hi' in HU; empty: -1024:3000"),
    Param("slice_axis", 2, "array axis of the slices (2: axial for NIfTI/MHA)", choices=(0, 1, 2)),
    Param("percentile", 99.5, "MR: per-volume percentile mapped to 1.0", minimum=50.0),
    *group_split_params("patients"),
)
PAIRED_PARAMS: tuple[Param, ...] = (
    Param("root", "", "folder of patient folders", location=True),
    Param("a_file", "mr.nii.gz", "file name of domain A in every patient folder"),
    Param("b_file", "ct.nii.gz", "file name of domain B in every patient folder"),
    Param("mask_file", "mask.nii.gz", "body-mask file name (used where present)"),
    *_COMMON,
)
UNPAIRED_PARAMS: tuple[Param, ...] = (
    Param("root", "", "folder holding the A and B trees", location=True),
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


def _domain(modality: str, window: str, owner: str) -> DomainInfo:
    return mr_domain() if modality == "MR" else ct_domain(parse_window(window, CT_WINDOW, owner))


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _volume_in(folder: Path) -> Path | None:
    """The patient's volume: its one NIfTI/MetaImage file, else the folder (a DICOM series)."""
    files = sorted(p for p in folder.iterdir() if p.name.lower().endswith(_VOLUME_SUFFIXES))
    if files:
        return files[0]
    return folder if list_dicom_files(folder)[0] else None


def _paired_valid(args: Mapping[str, Any]) -> Callable[[Path], bool]:
    def check(path: Path) -> bool:
        return any((p / str(args["a_file"])).is_file() for p in _folders(path))

    return check


def _unpaired_valid(args: Mapping[str, Any]) -> Callable[[Path], bool]:
    def check(path: Path) -> bool:
        return all((path / str(args[k])).is_dir() for k in ("a_dir", "b_dir"))

    return check


def _common(
    name: str, args: Mapping[str, Any]
) -> tuple[tuple[float, float, float], dict[str, DomainInfo]]:
    check_percentile(float(args["percentile"]), name)
    ratios = split_ratios(float(args["val_fraction"]), float(args["test_fraction"]), name)
    domains = {k: _domain(str(args[f"{k}_modality"]), str(args["window"]), name) for k in "ab"}
    return ratios, domains


def PairedVolumeFolder(args: Mapping[str, Any], ctx: DatasetContext) -> VolumeDataset:
    """Build ``paired-volume-folder`` (factory called by the runner).

    Raises:
        UsageError: bad arguments (e.g. the same file for A and B).
        DataError: no root, a patient with a missing file or volumes on different grids
            (naming its folder), or no usable slice.
    """
    resolved = resolve_args(PAIRED_PARAMS, args, PAIRED)
    if resolved["a_file"] == resolved["b_file"]:
        raise UsageError(f"{PAIRED}: a_file and b_file are both {resolved['a_file']!r}.")
    ratios, domains = _common(PAIRED, resolved)
    hint = OWN_DATA.format(name=PAIRED, layout="Layout: ROOT/<patient>/<a_file>, <b_file>.")
    root = find_root(PAIRED, ctx, _paired_valid(resolved), hint, str(resolved["root"]))
    patients = []
    for folder in _folders(root):
        where = relative(folder, root)
        mask = folder / str(resolved["mask_file"])
        patients.append(
            PatientFiles(
                key=anonymous_id(where, PAIRED),
                where=where,
                images={
                    "a": folder / str(resolved["a_file"]),
                    "b": folder / str(resolved["b_file"]),
                },
                mask=mask if mask.is_file() else None,
            )
        )
    return load_paired_patients(
        PAIRED,
        VERSION,
        root,
        patients,
        domains,
        resolved,
        ratios,
        int(ctx.image_size),
        Path(ctx.cache_dir),
    )


def UnpairedVolumeFolder(args: Mapping[str, Any], ctx: DatasetContext) -> SliceDataset:
    """Build ``unpaired-volume-folder`` (factory called by the runner).

    Raises:
        UsageError: bad arguments.
        DataError: no root, a tree without patients, an unreadable series (naming its folder),
            or no usable slice.
    """
    resolved = resolve_args(UNPAIRED_PARAMS, args, UNPAIRED)
    ratios, domains = _common(UNPAIRED, resolved)
    hint = OWN_DATA.format(name=UNPAIRED, layout="Layout: ROOT/MR/<patient>/, ROOT/CT/<patient>/.")
    root = find_root(UNPAIRED, ctx, _unpaired_valid(resolved), hint, str(resolved["root"]))
    size = int(ctx.image_size)
    trees: list[list[PatientFiles]] = []
    for k in "ab":
        tree = root / str(resolved[f"{k}_dir"])
        patients = []
        for folder in _folders(tree):
            where = relative(folder, root)
            volume = _volume_in(folder)
            if volume is None:
                raise DataError(f"{UNPAIRED}: {where}: no DICOM, NIfTI or MetaImage file.")
            patients.append(PatientFiles(anonymous_id(where, UNPAIRED), where, {k: volume}))
        if not patients:
            raise DataError(f"{UNPAIRED}: no patient folder under {relative(tree, root)}.")
        trees.append(patients)
    files = [
        f
        for tree in trees
        for p in tree
        for v in p.images.values()
        for f in (list_dicom_files(v)[0] if v.is_dir() else [v])
    ]
    fingerprint = files_fingerprint(
        files, root, fingerprint_extra(UNPAIRED, VERSION, resolved, size)
    )
    payloads = tuple(
        cached(
            Path(ctx.cache_dir) / "slices",
            {
                "dataset": UNPAIRED,
                "root": str(root.resolve()),
                "fingerprint": fingerprint,
                "side": k,
            },
            lambda tree=tree, k=k: read(tree, {k: domains[k]}, resolved, size),  # type: ignore[misc]
        )
        for tree, k in zip(trees, "ab", strict=True)
    )
    for payload in payloads:
        payload_problems(payload, UNPAIRED)
    return build_unpaired_dataset(
        (payloads[0], payloads[1]),
        (domains["a"], domains["b"]),
        ratios,
        int(resolved["seed"]),
        size,
        fingerprint,
    )


def _download(name: str, layout: str) -> Callable[..., Path]:
    def download(
        args: Mapping[str, Any], ctx: DatasetContext, report: Callable[[str], None]
    ) -> Path:
        """Nothing to fetch: says what the dataset reads and where public data of its kind are."""
        raise DataError(
            f"{name}: nothing to download.", hint=OWN_DATA.format(name=name, layout=layout)
        )

    return download


download_paired = _download(PAIRED, "Layout: ROOT/<patient>/<a_file>, <b_file>[, <mask_file>].")
download_unpaired = _download(UNPAIRED, "Layout: ROOT/<a_dir>/<patient>/, ROOT/<b_dir>/<patient>/.")


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``paired-volume-folder`` and ``unpaired-volume-folder``."""
    module = "medganbench_plugins.datasets.volume_folders"
    return [
        DatasetSpec(
            name=PAIRED,
            summary="Your paired volumes, one folder per patient (NIfTI/MHA, optional mask); per-patient evaluation.",
            version=VERSION,
            factory=f"{module}:PairedVolumeFolder",
            params=PAIRED_PARAMS,
            modality="two of MR/CT (volumes)",
            pairing="paired",
            paired=True,
            size="your files",
            download=f"{module}:download_paired",
        ),
        DatasetSpec(
            name=UNPAIRED,
            summary="Your unpaired A and B trees of DICOM series or volumes, by patient (e.g. ADNI MR/CT).",
            version=VERSION,
            factory=f"{module}:UnpairedVolumeFolder",
            params=UNPAIRED_PARAMS,
            modality="two of MR/CT (volumes)",
            pairing="unpaired",
            size="your files",
            download=f"{module}:download_unpaired",
        ),
    ]


__all__ = [
    "PAIRED",
    "UNPAIRED",
    "PairedVolumeFolder",
    "UnpairedVolumeFolder",
    "medganbench_datasets",
]
