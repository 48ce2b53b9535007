"""NIfTI volumes as 2-D slices, and the ``nifti-folder`` dataset.

This module also holds the volume helpers that every volume-backed dataset here shares
(:mod:`.dicom_series`, :mod:`.brats`, :mod:`.acdc`): square resizing of a 2-D slice, per-volume
percentile normalisation of MR, window parsing, split ratios, anonymous ids, and
:func:`build_dataset`, which turns cached slice tensors tagged with groups into a
:class:`~medganbench_plugins.datasets.slices.SliceDataset`.

Conventions:

* A volume is read with nibabel (``scl_slope``/``scl_inter`` applied), as float32. CT volumes
  are taken to be in Hounsfield units already; MR volumes are scaled to [0, 1] per volume by
  :func:`percentile_normalise` (units ``"a.u."``, window ``(0, 1)``).
* Slices are taken in array order along ``slice_axis``; they are not reoriented to a display
  convention, and voxel spacing is ignored (an anisotropic slice is resized as if square voxels).
* Single-domain datasets serve the unconditional track and the distribution metrics (FID/KID):
  they expose the same slices as A and B with ``paired=False``; B is offset by whole groups so an
  item never pairs a slice with itself. Translation needs two domains (see :mod:`.brats`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F

from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo, DomainInfo
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root, locate_root
from medganbench.data.images import oversize
from medganbench.errors import DataError, UsageError
from medganbench_plugins.datasets.slices import (
    InputProblems,
    SliceDataset,
    SliceSplit,
    assign_splits,
    body_mask,
    cached,
    files_fingerprint,
    group_split_params,
    stack,
)

log = logging.getLogger(__name__)

NAME = "nifti-folder"
#: Bump whenever the delivered slices could change (part of the cache key and fingerprint).
VERSION = "1"
#: Default CT window in HU (air to dense bone).
CT_WINDOW: tuple[float, float] = (-1024.0, 3000.0)
#: MR is delivered normalised to this window.
MR_WINDOW: tuple[float, float] = (0.0, 1.0)
#: A slice is empty when no pixel exceeds this fraction of the window above its floor (the same
#: rule as :func:`body_mask`, so every kept slice has a non-empty body mask).
EMPTY_FRACTION = 0.05

PARAMS: tuple[Param, ...] = (
    Param(
        "root",
        "",
        "folder of NIfTI files (searched recursively); empty: --data-dir, "
        "MEDGANBENCH_DATA_NIFTI_FOLDER or the cache directory",
        location=True,
    ),
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
    *group_split_params("volumes"),
)


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``nifti-folder``."""
    return [
        DatasetSpec(
            name=NAME,
            summary="Slices of a folder of NIfTI volumes (one domain: unconditional track, FID/KID).",
            version=VERSION,
            factory="medganbench_plugins.datasets.nifti_volumes:NiftiFolder",
            params=PARAMS,
            modality="MR or CT",
            pairing="unpaired (single domain)",
            size="your files",
            locate="medganbench_plugins.datasets.nifti_volumes:locate",
        )
    ]


class VolumeError(DataError):
    """One file cannot be used as a volume; ``message`` says why in a few words."""


# --------------------------------------------------------------------------------------------
# Volume helpers shared by the volume datasets
# --------------------------------------------------------------------------------------------


def load_volume(path: Path, volume_index: int = -1) -> np.ndarray:
    """Read a NIfTI file as a 3-D float32 array.

    Trailing singleton axes beyond the third are dropped first ((x, y, z, 1) is a 3-D volume).

    Args:
        path: the ``.nii`` or ``.nii.gz`` file.
        volume_index: for 4-D data, the index along the 4th axis; -1 means "must be 3-D".

    Returns:
        float32 array of shape (X, Y, Z), scaling (``scl_slope``/``scl_inter``) applied.

    Raises:
        VolumeError: not a readable NIfTI file, truncated, or not 3-D / 4-D with
            ``volume_index`` in range.
    """
    try:
        image = nib.load(str(path))
        shape = tuple(int(n) for n in image.shape)
    except Exception:  # noqa: BLE001 - nibabel raises many types for foreign or damaged headers
        raise VolumeError("not a readable NIfTI file") from None
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) == 4 and volume_index == -1 and shape[3] > 1:
        raise VolumeError(f"4-D volume ({shape[3]} volumes); pass volume_index to pick one")
    if len(shape) == 4 and not 0 <= volume_index < shape[3]:
        raise VolumeError(f"volume_index {volume_index} is out of range (4th axis has {shape[3]})")
    if len(shape) not in (3, 4):
        raise VolumeError(f"{len(shape)}-D data; expected a 3-D volume or a 4-D series")
    if (too_big := oversize(*shape[:3])) is not None:
        raise VolumeError(f"refused: {too_big}")
    try:
        proxy = image.dataobj
        # Index only the wanted volume so a long 4-D series is not read whole.
        raw = proxy[..., volume_index] if len(shape) == 4 else proxy
        data = np.asarray(raw, dtype=np.float32).reshape(shape[:3])
    except Exception:  # noqa: BLE001 - gzip/zlib/EOF errors of a truncated file surface only here
        raise VolumeError("truncated or corrupt NIfTI data") from None
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return data


def percentile_normalise(volume: np.ndarray, percentile: float) -> np.ndarray:
    """Scale a volume to [0, 1]: its minimum (0th percentile) → 0, its ``percentile``-th → 1.

    MR intensities have no physical scale, so each volume is normalised on its own; values
    above the percentile (a few bright voxels) clip to 1.

    Returns:
        float32 array, same shape, values in [0, 1]; all zeros for a constant volume.
    """
    lo = float(np.min(volume)) if volume.size else 0.0
    hi = float(np.percentile(volume, percentile)) if volume.size else 0.0
    if hi <= lo:
        return np.zeros_like(volume, dtype=np.float32)
    return np.clip((volume - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def square_slice(pixels: np.ndarray, size: int) -> torch.Tensor:
    """Pad a 2-D slice to a centred square with its minimum, then resize to ``size``.

    Bilinear, antialiased when shrinking; the minimum is the background, so padding adds no
    bright frame and keeps the anatomy's aspect ratio.

    Returns:
        float32 tensor (1, size, size).
    """
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    h, w = t.shape
    side = max(h, w)
    if h != w:
        square = torch.full((side, side), float(t.min()), dtype=torch.float32)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = t
        t = square
    if side == size:
        return t[None].clone()
    out = F.interpolate(
        t[None, None],
        size=(size, size),
        mode="bilinear",
        align_corners=False,
        antialias=side > size,
    )
    return out[0]


def is_empty(pixels: np.ndarray | torch.Tensor, window: tuple[float, float]) -> bool:
    """Whether no pixel exceeds :data:`EMPTY_FRACTION` of ``window`` above its floor."""
    lo, hi = window
    return not bool((pixels > lo + EMPTY_FRACTION * (hi - lo)).any())


def volume_slices(
    volume: np.ndarray, axis: int, size: int, window: tuple[float, float], skip_empty: bool
) -> list[torch.Tensor]:
    """Cut a 3-D volume (already in delivered units) into resized (1, size, size) slices.

    Emptiness is judged on the native slice, before resizing.
    """
    out = []
    for i in range(volume.shape[axis]):
        plane = np.take(volume, i, axis=axis)
        if skip_empty and is_empty(plane, window):
            continue
        out.append(square_slice(plane, size))
    return out


def parse_window(text: str, default: tuple[float, float], owner: str) -> tuple[float, float]:
    """Parse ``"lo:hi"`` or ``"lo,hi"`` (empty: ``default``).

    ``:`` is the form to use on the command line, where ``,`` separates arguments.

    Raises:
        UsageError: not two numbers with ``lo < hi``.
    """
    if not text.strip():
        return default
    parts = text.replace(",", ":").split(":")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"{owner}: window {text!r} is not 'lo:hi'.", hint="Example: window=-1024:3000"
        ) from None
    if not lo < hi:
        raise UsageError(f"{owner}: window {text!r} needs lo < hi.")
    return lo, hi


def split_ratios(val: float, test: float, owner: str) -> tuple[float, float, float]:
    """(train, val, test) fractions.

    Raises:
        UsageError: ``val + test`` leaves nothing for training.
    """
    if val + test >= 1.0:
        raise UsageError(f"{owner}: val_fraction + test_fraction must be below 1.")
    return 1.0 - val - test, val, test


def check_percentile(value: float, owner: str) -> float:
    """``value`` if it is a percentile in (0, 100].

    Raises:
        UsageError: outside that range.
    """
    if not 0.0 < value <= 100.0:
        raise UsageError(f"{owner}: percentile {value} must be in (0, 100].")
    return value


def anonymous_id(text: str, key: str = "") -> str:
    """12 hex digits of sha256 over ``key`` and ``text``: a stable id that does not show ``text``."""
    return hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()[:12]


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (the absolute path if it is outside)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _is_hidden(path: Path, root: Path) -> bool:
    return any(
        part.startswith(".") or part == "__MACOSX" for part in Path(relative(path, root)).parts
    )


def list_files(root: Path, pattern: str, exclude: Path | None = None) -> list[Path]:
    """Files under ``root`` (recursively) whose name matches ``pattern``, sorted.

    Hidden files and folders, and anything under ``exclude`` (the cache directory, which
    the root lookup may name as the root itself), are left out.
    """
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or _is_hidden(path, root) or not fnmatch.fnmatch(path.name, pattern):
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude.resolve()):
            continue
        out.append(path)
    return out


def payload_problems(payload: Mapping[str, Any], owner: str) -> None:
    """Log the skipped files recorded in a (possibly cached) payload, so none is hidden."""
    problems = InputProblems(
        strict=False, problems=[(str(w), str(p)) for w, p in payload.get("problems", [])]
    )
    if problems.problems:
        log.warning("%s: %s", owner, problems.summary())


@dataclass(frozen=True)
class Built:
    """What :func:`build_dataset` needs: slices in delivered units, tagged with groups.

    Attributes:
        a: (N, 1, S, S) slices of domain A.
        b: (N, 1, S, S) slices of domain B for a paired dataset, else ``None`` (single domain).
        groups: group id (patient/volume/case) of each slice.
    """

    a: torch.Tensor
    b: torch.Tensor | None
    groups: Sequence[str]


def build_dataset(
    built: Built,
    domains: tuple[DomainInfo, DomainInfo],
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
) -> SliceDataset:
    """Assign whole groups to splits and wrap the slices as a :class:`SliceDataset`.

    Paired (``built.b`` given): item i is (a[i], b[i]) and both masks are the union of the two
    body masks (the contract wants equal masks for pairs). Single domain: A and B are the same
    slices, B offset by :func:`offset_by_group`.

    Raises:
        DataError: no slices, or fewer groups than splits.
    """
    if built.a.shape[0] == 0:
        raise DataError(
            "No usable slices were found (every slice was empty or every file was skipped)."
        )
    record = assign_splits(built.groups, ratios, seed)
    split_of = [record[g] for g in built.groups]
    splits = {}
    for name in SPLITS:
        index = [i for i, s in enumerate(split_of) if s == name]
        splits[name] = _split(built, domains, index, size)
    info = DatasetInfo(
        a=domains[0], b=domains[1], paired=built.b is not None, splits=SPLITS, image_size=size
    )
    return SliceDataset(info, splits, fingerprint, record)


def _split(
    built: Built, domains: tuple[DomainInfo, DomainInfo], index: list[int], size: int
) -> SliceSplit:
    a = stack([built.a[i] for i in index], 1, size)
    mask_a = body_mask(a, domains[0].window)
    if built.b is not None:
        b = stack([built.b[i] for i in index], 1, size)
        mask = mask_a | body_mask(b, domains[1].window)
        return SliceSplit(a, b, mask, mask.clone(), paired=True)
    order = offset_by_group([built.groups[i] for i in index])
    return SliceSplit(a, a[order].clone(), mask_a, mask_a[order].clone(), paired=False)


def offset_by_group(groups: Sequence[str]) -> list[int]:
    """A permutation that moves every item by the size of the largest group.

    Items are assumed grouped contiguously (as built). With that shift, item i's partner comes
    from another group whenever no group holds more than half of the items.
    """
    n = len(groups)
    if n == 0:
        return []
    largest = max(groups.count(g) for g in set(groups))
    return [(i + largest) % n for i in range(n)]


def fingerprint_extra(
    name: str, version: str, args: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """What besides the file list shapes the slices (the root's location does not)."""
    return {
        "dataset": name,
        "version": version,
        "image_size": size,
        "args": {k: v for k, v in args.items() if k != "root"},
    }


def mr_domain(name: str = "MR") -> DomainInfo:
    """An MR domain normalised to [0, 1]."""
    return DomainInfo(name=name, modality="MR", units="a.u.", window=MR_WINDOW, channels=1)


def ct_domain(window: tuple[float, float] = CT_WINDOW) -> DomainInfo:
    """A CT domain in Hounsfield units."""
    return DomainInfo(name="CT", modality="CT", units="HU", window=window, channels=1)


# --------------------------------------------------------------------------------------------
# nifti-folder
# --------------------------------------------------------------------------------------------


def _has_volumes(pattern: str) -> Any:
    def check(path: Path) -> bool:
        return any(fnmatch.fnmatch(p.name, pattern) for p in path.rglob("*") if p.is_file())

    return check


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The folder holding the volumes if present locally, else ``None``."""
    resolved = resolve_args(PARAMS, args, NAME)
    return locate_root(NAME, ctx, _has_volumes(str(resolved["pattern"])), str(resolved["root"]))


def _root(args: Mapping[str, Any], ctx: DatasetContext) -> Path:
    return find_root(
        NAME,
        ctx,
        _has_volumes(str(args["pattern"])),
        "Put your .nii/.nii.gz volumes in one folder (sub-folders are searched).",
        str(args["root"]),
    )


def NiftiFolder(args: Mapping[str, Any], ctx: DatasetContext) -> SliceDataset:
    """Build the ``nifti-folder`` dataset (factory called by the runner).

    Each file is one group: splits are made by volume. Group ids are hashes of the file's
    relative path, so file names (often patient names) never reach a split record or a log.

    Raises:
        UsageError: an argument is invalid.
        DataError: no root, no matching file, a bad file in strict mode, or no usable slice.
    """
    resolved = resolve_args(PARAMS, args, NAME)
    owner = NAME
    ratios = split_ratios(float(resolved["val_fraction"]), float(resolved["test_fraction"]), owner)
    modality = str(resolved["modality"])
    domain = (
        mr_domain()
        if modality == "MR"
        else ct_domain(parse_window(str(resolved["window"]), CT_WINDOW, owner))
    )
    root = _root(resolved, ctx)
    files = list_files(root, str(resolved["pattern"]), exclude=Path(ctx.cache_dir))
    if not files:
        raise DataError(f"{NAME}: no file matching {resolved['pattern']!r} under {root}.")
    size = int(ctx.image_size)
    fingerprint = files_fingerprint(files, root, fingerprint_extra(NAME, VERSION, resolved, size))
    key = {"dataset": NAME, "root": str(root.resolve()), "fingerprint": fingerprint}
    payload = cached(
        Path(ctx.cache_dir) / "slices",
        key,
        lambda: _read_folder(files, root, resolved, domain, size),
    )
    payload_problems(payload, owner)
    built = Built(a=payload["a"], b=None, groups=list(payload["groups"]))
    return build_dataset(built, (domain, domain), ratios, int(resolved["seed"]), size, fingerprint)


def _read_folder(
    files: Sequence[Path], root: Path, args: Mapping[str, Any], domain: DomainInfo, size: int
) -> dict[str, Any]:
    """Read every file into resized slices; bad files go to :class:`InputProblems`."""
    problems = InputProblems(strict=bool(args["strict"]))
    slices: list[torch.Tensor] = []
    groups: list[str] = []
    for path in files:
        where = relative(path, root)
        try:
            volume = load_volume(path, int(args["volume_index"]))
        except VolumeError as exc:
            problems.add(where, exc.message)
            continue
        if domain.modality == "MR":
            volume = percentile_normalise(volume, check_percentile(float(args["percentile"]), NAME))
        cut = volume_slices(
            volume, int(args["slice_axis"]), size, domain.window, bool(args["skip_empty"])
        )
        slices += cut
        groups += [anonymous_id(where, NAME)] * len(cut)
    return {
        "a": stack(slices, 1, size),
        "groups": groups,
        "problems": [list(p) for p in problems.problems],
    }


__all__ = [
    "NAME",
    "PARAMS",
    "VERSION",
    "Built",
    "NiftiFolder",
    "VolumeError",
    "anonymous_id",
    "build_dataset",
    "load_volume",
    "locate",
    "medganbench_datasets",
    "percentile_normalise",
    "square_slice",
    "volume_slices",
]
