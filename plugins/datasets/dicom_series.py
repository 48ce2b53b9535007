"""DICOM files read with pydicom, grouped into anonymous patients, and the ``dicom-folder`` dataset.

Reading (:func:`read_ct_slice`, :func:`read_mr_slice`):

* CT values are Hounsfield units: ``stored * RescaleSlope + RescaleIntercept``, with slope 1 and
  intercept 0 where the tags are absent (as the standard allows).
* MR values are the stored values (arbitrary units); the dataset scales each series to [0, 1]
  by its 0th..``mr_percentile``-th percentile.
* Multi-frame objects give one slice per frame; colour (``SamplesPerPixel`` > 1) is refused.

Privacy: a file's patient and series are known only through *anonymous ids*: the first 12 hex
digits of an HMAC-SHA256 of PatientID (resp. Study/Series UIDs) keyed by a digest of all the
study and series UIDs of the tree. The key comes from the data, so the same files give the same
ids (and splits) on every machine, yet someone who sees only an id (in a split record, a log
line, a leaderboard row) cannot test guesses of PatientID against it. Raw header values live only
in :class:`SliceMeta` fields hidden from ``repr`` and never enter a message; problems name the
file by its path relative to the root (the user's own tree).

Layout: any folder tree; every non-hidden file whose name ends in ``.dcm``, ``.dicom``, ``.ima``,
has no suffix, or a numeric one (UID-like names) is read; other files and ``DICOMDIR`` are
ignored (counted in a log line). Files of another Modality (RTSTRUCT, SR, or MR in a CT set)
are skipped and counted, not treated as errors.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import torch
from pydicom.errors import InvalidDicomError

from medganbench.core.dataset import DatasetContext
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import find_root, locate_root
from medganbench.data.images import oversize
from medganbench.errors import DataError
from medganbench_plugins.datasets.nifti_volumes import (
    CT_WINDOW,
    Built,
    build_dataset,
    check_percentile,
    ct_domain,
    fingerprint_extra,
    mr_domain,
    parse_window,
    payload_problems,
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

log = logging.getLogger(__name__)

NAME = "dicom-folder"
VERSION = "1"
#: Suffixes read as DICOM besides "none" and numeric ones.
DICOM_SUFFIXES: frozenset[str] = frozenset({".dcm", ".dicom", ".ima"})

PARAMS: tuple[Param, ...] = (
    Param(
        "root",
        "",
        "folder tree of DICOM files; empty: --data-dir, MEDGANBENCH_DATA_DICOM_FOLDER "
        "or the cache directory",
        location=True,
    ),
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
    Param("mr_percentile", 99.5, "MR: per-series percentile mapped to 1.0", minimum=50.0),
    *group_split_params("patients"),
)


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``dicom-folder``."""
    return [
        DatasetSpec(
            name=NAME,
            summary="Slices of a DICOM folder tree, split by anonymised patient (one domain: "
            "unconditional track, FID/KID).",
            version=VERSION,
            factory="medganbench_plugins.datasets.dicom_series:DicomFolder",
            params=PARAMS,
            modality="CT or MR",
            pairing="unpaired (single domain)",
            size="your files",
            locate="medganbench_plugins.datasets.dicom_series:locate",
        )
    ]


class DicomFileError(DataError):
    """One file cannot be used as a DICOM image; ``message`` says why without header values."""


@dataclass(frozen=True)
class SliceMeta:
    """What a slice's header says about where it belongs.

    The identifying fields are excluded from ``repr`` so that logging a meta object cannot
    leak them; use :func:`anonymise` to get the ids that may be shown.

    Attributes:
        modality: the Modality tag (``""`` if absent).
        units: ``"HU"`` for rescaled CT, ``"a.u."`` for stored MR values.
        position: position along the slice normal (mm), if the geometry tags are present.
        instance: InstanceNumber, if present.
        patient: PatientID (raw; never show it).
        study: StudyInstanceUID (raw).
        series: SeriesInstanceUID (raw).
    """

    modality: str
    units: str
    position: float | None
    instance: int | None
    patient: str = field(repr=False, default="")
    study: str = field(repr=False, default="")
    series: str = field(repr=False, default="")


def read_ct_slice(path: Path | str) -> tuple[np.ndarray, SliceMeta]:
    """Read a CT slice in Hounsfield units.

    Returns:
        (pixels, meta): float32 (H, W) — or (F, H, W) for a multi-frame object — equal to
        ``pixel_array * RescaleSlope + RescaleIntercept`` (defaults 1 and 0).

    Raises:
        DicomFileError: not DICOM, no pixel data, truncated, colour, or undecodable.
    """
    ds, stored = _read(Path(path))
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    # float64 for the arithmetic so the result is exact for integer stored values.
    hu = (stored.astype(np.float64) * slope + intercept).astype(np.float32)
    return hu, _meta(ds, "HU")


def read_mr_slice(path: Path | str) -> tuple[np.ndarray, SliceMeta]:
    """Read an MR slice as its stored values (arbitrary units).

    Returns:
        (pixels, meta): float32 (H, W) or (F, H, W).

    Raises:
        DicomFileError: as :func:`read_ct_slice`.
    """
    ds, stored = _read(Path(path))
    return stored.astype(np.float32), _meta(ds, "a.u.")


def _read(path: Path) -> tuple[pydicom.Dataset, np.ndarray]:
    """Parse the file and decode its pixels fully (a truncated file fails here)."""
    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError:
        raise DicomFileError("not a DICOM file (no DICM preamble)") from None
    except Exception:  # noqa: BLE001 - truncated headers raise EOFError, struct/value errors, ...
        raise DicomFileError("unreadable or truncated DICOM header") from None
    if "PixelData" not in ds:
        raise DicomFileError("no pixel data (not an image object)")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DicomFileError("colour DICOM images are not supported")
    try:
        sides = (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise DicomFileError("malformed Rows/Columns/NumberOfFrames") from None
    if (too_big := oversize(*sides, frames)) is not None:
        raise DicomFileError(f"refused: {too_big}")
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception:  # noqa: BLE001 - short pixel data, unsupported compression without a decoder, ...
        raise DicomFileError("pixel data are truncated or cannot be decoded") from None
    if pixels.ndim not in (2, 3) or pixels.size == 0:
        raise DicomFileError("pixel data have an unexpected shape")
    return ds, pixels


def _meta(ds: pydicom.Dataset, units: str) -> SliceMeta:
    return SliceMeta(
        modality=str(ds.get("Modality", "") or ""),
        units=units,
        position=_position(ds),
        instance=_int_or_none(ds.get("InstanceNumber")),
        patient=str(ds.get("PatientID", "") or ""),
        study=str(ds.get("StudyInstanceUID", "") or ""),
        series=str(ds.get("SeriesInstanceUID", "") or ""),
    )


def _position(ds: pydicom.Dataset) -> float | None:
    """Distance along the slice normal: ImagePositionPatient · (row × column direction)."""
    try:
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        return float(ipp @ np.cross(iop[:3], iop[3:]))
    except (AttributeError, TypeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def anonymise(metas: Sequence[SliceMeta]) -> tuple[list[str], list[str]]:
    """Anonymous (patient id, series id) of every meta.

    The HMAC key is a digest of all study and series UIDs in ``metas`` (see the module doc).
    A file without PatientID is its own patient only through its series: the empty PatientID is
    hashed like any other value, so such files share one anonymous patient.

    Returns:
        (patients, series): two lists of 12-hex-digit ids, aligned with ``metas``.
    """
    uids = sorted({m.study for m in metas} | {m.series for m in metas})
    key = hashlib.sha256("\0".join(["medganbench-dicom-v1", *uids]).encode()).digest()

    def tag(*parts: str) -> str:
        return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:12]

    return [tag("patient", m.patient) for m in metas], [
        tag("series", m.patient, m.study, m.series) for m in metas
    ]


def is_dicom_candidate(path: Path) -> bool:
    """Whether the file name suggests DICOM (see the module doc); ``DICOMDIR`` is not an image."""
    if path.name.upper() == "DICOMDIR":
        return False
    suffix = path.suffix.lower()
    return suffix in DICOM_SUFFIXES or suffix == "" or suffix[1:].isdigit()


def list_dicom_files(root: Path, exclude: Path | None = None) -> tuple[list[Path], int]:
    """(candidate files sorted, number of other files ignored) under ``root``.

    Hidden files/folders and anything under ``exclude`` (the cache directory) are left out.
    """
    files, ignored = [], 0
    for path in sorted(root.rglob("*")):
        rel = Path(relative(path, root))
        if not path.is_file() or any(p.startswith(".") or p == "__MACOSX" for p in rel.parts):
            continue
        if exclude is not None and path.resolve().is_relative_to(Path(exclude).resolve()):
            continue
        if is_dicom_candidate(path):
            files.append(path)
        else:
            ignored += 1
    return files, ignored


def _looks_valid(path: Path) -> bool:
    return any(is_dicom_candidate(p) for p in path.rglob("*") if p.is_file())


def locate(args: Mapping[str, Any], ctx: DatasetContext) -> Path | None:
    """The DICOM root if present locally, else ``None``."""
    resolved = resolve_args(PARAMS, args, NAME)
    return locate_root(NAME, ctx, _looks_valid, str(resolved["root"]))


def _root(args: Mapping[str, Any], ctx: DatasetContext) -> Path:
    return find_root(
        NAME,
        ctx,
        _looks_valid,
        "Copy or link your DICOM export (any folder tree of .dcm files) into one folder.",
        str(args["root"]),
    )


def DicomFolder(args: Mapping[str, Any], ctx: DatasetContext) -> SliceDataset:
    """Build the ``dicom-folder`` dataset (factory called by the runner).

    A single domain: the slices are both A and B, ``paired=False`` — it serves the unconditional
    track and FID/KID; image-to-image translation needs two domains. Splits are by anonymous
    patient, so no patient is in two splits.

    Raises:
        UsageError: an argument is invalid.
        DataError: no root, no DICOM file, an unreadable file in strict mode, or no slice.
    """
    resolved = resolve_args(PARAMS, args, NAME)
    ratios = split_ratios(float(resolved["val_fraction"]), float(resolved["test_fraction"]), NAME)
    modality = str(resolved["modality"])
    if modality == "MR":
        check_percentile(float(resolved["mr_percentile"]), NAME)
        domain = mr_domain()
    else:
        domain = ct_domain(parse_window(str(resolved["window"]), CT_WINDOW, NAME))
    root = _root(resolved, ctx)
    files, ignored = list_dicom_files(root, exclude=Path(ctx.cache_dir))
    if ignored:
        log.info("%s: ignored %d file(s) whose names are not DICOM-like.", NAME, ignored)
    if not files:
        raise DataError(f"{NAME}: no DICOM file under {root}.")
    size = int(ctx.image_size)
    fingerprint = files_fingerprint(files, root, fingerprint_extra(NAME, VERSION, resolved, size))
    key = {"dataset": NAME, "root": str(root.resolve()), "fingerprint": fingerprint}
    payload = cached(
        Path(ctx.cache_dir) / "slices", key, lambda: _read_tree(files, root, resolved, size)
    )
    payload_problems(payload, NAME)
    if payload.get("other_modality"):
        log.info(
            "%s: skipped %d file(s) of another modality than %s.",
            NAME,
            int(payload["other_modality"]),
            modality,
        )
    built = Built(a=payload["a"], b=None, groups=list(payload["groups"]))
    return build_dataset(built, (domain, domain), ratios, int(resolved["seed"]), size, fingerprint)


@dataclass
class _Read:
    """One readable slice (or frame) before grouping; raw meta stays in this module."""

    meta: SliceMeta
    where: str
    frame: int
    image: torch.Tensor


def _read_tree(
    files: Sequence[Path], root: Path, args: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """Read, group, order and (MR) normalise every slice; the payload holds no header value."""
    problems = InputProblems(strict=bool(args["strict"]))
    reader = read_ct_slice if args["modality"] == "CT" else read_mr_slice
    reads: list[_Read] = []
    other = 0
    for path in files:
        where = relative(path, root)
        try:
            pixels, meta = reader(path)
        except DicomFileError as exc:
            problems.add(where, exc.message)
            continue
        if meta.modality and meta.modality != args["modality"]:
            other += 1
            continue
        frames = pixels if pixels.ndim == 3 else pixels[None]
        reads += [_Read(meta, where, i, square_slice(f, size)) for i, f in enumerate(frames)]
    patients, series = anonymise([r.meta for r in reads])
    slices, groups = _ordered(reads, patients, series, args, size)
    return {
        "a": stack(slices, 1, size),
        "groups": groups,
        "problems": [list(p) for p in problems.problems],
        "other_modality": other,
    }


def _ordered(
    reads: Sequence[_Read],
    patients: Sequence[str],
    series: Sequence[str],
    args: Mapping[str, Any],
    size: int,
) -> tuple[list[torch.Tensor], list[str]]:
    """Slices grouped by patient, then series, each series in anatomical order (MR normalised).

    Order within a series: position along the normal, then InstanceNumber, then file path and
    frame (files without geometry keep a stable order).
    """
    by_series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(patients, series, strict=True)):
        by_series[key].append(i)
    slices: list[torch.Tensor] = []
    groups: list[str] = []
    for (patient, _), members in sorted(by_series.items()):
        members.sort(key=lambda i: _order_key(reads[i]))
        images = torch.stack([reads[i].image for i in members])
        if args["modality"] == "MR":
            images = _normalise_series(images, float(args["mr_percentile"]))
        slices += list(images)
        groups += [patient] * len(members)
    return slices, groups


def _order_key(read: _Read) -> tuple[float, float, str, int]:
    m = read.meta
    position = m.position if m.position is not None else float("inf")
    instance = float(m.instance) if m.instance is not None else float("inf")
    return position, instance, read.where, read.frame


def _normalise_series(images: torch.Tensor, percentile: float) -> torch.Tensor:
    """Per-series [0, 1] scaling of resized slices: minimum → 0, ``percentile``-th → 1."""
    flat = images.flatten().double()
    lo = float(flat.min())
    hi = float(np.percentile(flat.numpy(), percentile))
    if hi <= lo:
        return torch.zeros_like(images)
    return ((images - lo) / (hi - lo)).clamp(0.0, 1.0)


__all__ = [
    "NAME",
    "PARAMS",
    "VERSION",
    "DicomFileError",
    "DicomFolder",
    "SliceMeta",
    "anonymise",
    "list_dicom_files",
    "locate",
    "medganbench_datasets",
    "read_ct_slice",
    "read_mr_slice",
]
