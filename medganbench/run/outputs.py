"""Image files exchanged with code that runs elsewhere: the inputs ``medganbench datasets export``
writes, and the outputs folder ``medganbench score`` reads back.

Samples of a split are named by their position in it, :func:`sample_name` (``00000``,
``00001``, ...), the order every run evaluates them in. One file per sample, in one of two
formats:

* ``<name>.npy``: a NumPy array (no pickle), shape (C, H, W), or (H, W) for one channel, any
  integer or float dtype, in the domain's own units (HU for CT, the delivered a.u. for MR), as
  the dataset delivers them;
* ``<name>.png``: one channel as 8- or 16-bit grey, three channels as 8-bit RGB, the domain's
  window mapped linearly onto the full grey range (0 → window low, maximum → window high).

The outputs folder is someone else's (:func:`read_outputs`): only plain files named after a
sample of the split are read, each is refused if its size on disk exceeds what an image of the
expected shape can take before anything is decoded, a PNG's declared size is checked before
decoding, a ``.npy`` header's shape, dtype and data length are checked before its array is
allocated, ``.npy`` files are read without pickle, and every missing, extra, duplicate, unreadable
or wrong-size file is listed in one message. Dot files and ``manifest.json`` are ignored.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medganbench.errors import DataError, UsageError
from medganbench.fileio import write_bytes

#: The file formats of exported inputs and scored outputs.
FORMATS: tuple[str, ...] = ("npy", "png")
#: The export's description file; ignored in an outputs folder.
MANIFEST_NAME = "manifest.json"
# How many names of one kind of problem the message lists before it counts the rest.
_SHOWN = 20
# Room for a .npy header, and the worst case of PNG's compression overhead, in bytes.
_NPY_HEADER = 4096
_PNG_SLACK = 65536


def sample_name(index: int) -> str:
    """The file stem of a split's ``index``-th sample: ``00042``."""
    return f"{index:05d}"


@dataclass(frozen=True)
class ImageShape:
    """What every file of one domain must hold.

    Attributes:
        channels: the domain's channels.
        size: the side of the square images.
        window: the domain's (low, high) window, for PNG's grey mapping.
    """

    channels: int
    size: int
    window: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


def encode(image: torch.Tensor, fmt: str, shape: ImageShape) -> bytes:
    """One image (C, H, W) in domain units as the bytes of a ``fmt`` file (see the module)."""
    array = image.detach().cpu().float().numpy()
    if fmt == "npy":
        sink = io.BytesIO()
        np.save(sink, array.astype(np.float32), allow_pickle=False)
        return sink.getvalue()
    low, high = shape.window
    unit = np.clip((array - low) / (high - low), 0.0, 1.0)
    if shape.channels == 1:
        grey = np.rint(unit[0] * 65535.0).astype(np.uint16)
        picture = Image.fromarray(grey)
    elif shape.channels == 3:
        picture = Image.fromarray(np.rint(unit.transpose(1, 2, 0) * 255.0).astype(np.uint8))
    else:
        raise UsageError(
            f"PNG holds one or three channels; this domain has {shape.channels}.",
            hint="Use --format npy.",
        )
    sink = io.BytesIO()
    picture.save(sink, format="PNG")
    return sink.getvalue()


def write_images(
    folder: Path, images: Sequence[tuple[str, torch.Tensor]], fmt: str, shape: ImageShape
) -> None:
    """Write ``(name, image)`` pairs as ``folder/<name>.<fmt>``."""
    for name, image in images:
        write_bytes(folder / f"{name}.{fmt}", encode(image, fmt, shape))


@dataclass(frozen=True)
class Outputs:
    """Outputs made elsewhere, read and checked.

    Attributes:
        images: (N, C, H, W) float32 in the domain's units, in sample order.
        sha256: hash of every sample's name and decoded values: the same images give the same
            hash whatever format or file names' case they came in.
    """

    images: torch.Tensor
    sha256: str


@dataclass
class _Problems:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    wrong_size: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = []
        for what, names in (
            ("missing", self.missing),
            ("extra (not a sample of the split)", self.extra),
            ("more than one file for a sample", self.duplicate),
            ("of the wrong size", self.wrong_size),
            ("unreadable", self.unreadable),
        ):
            if names:
                shown = "; ".join(names[:_SHOWN])
                more = f"; and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
                parts.append(f"{len(names)} {what}: {shown}{more}")
        return ". ".join(parts)


def read_outputs(folder: Path, names: Sequence[str], shape: ImageShape) -> Outputs:
    """Read one file per name from ``folder`` (see the module for formats and checks).

    Args:
        folder: the outputs folder (untrusted contents).
        names: the split's sample names, in order.
        shape: what each file must hold.

    Raises:
        UsageError: ``folder`` is not a folder.
        DataError: one message listing every missing, extra, duplicate, unreadable or
            wrong-size file; nothing is scored.
    """
    if not folder.is_dir():
        raise UsageError(f"--outputs {folder} is not a folder.")
    wanted = set(names)
    found: dict[str, Path] = {}
    problems = _Problems()
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            name = entry.name
            if name.startswith(".") or name == MANIFEST_NAME:
                continue
            stem, suffix = os.path.splitext(name)
            if entry.is_symlink():
                problems.extra.append(f"{name!r} (a link: outputs must be plain files)")
            elif not entry.is_file(follow_symlinks=False):
                problems.extra.append(f"{name!r} (not a file)")
            elif suffix.lower() not in (".npy", ".png") or stem not in wanted:
                problems.extra.append(repr(name))
            elif stem in found:
                problems.duplicate.append(f"{found[stem].name!r} and {name!r}")
            else:
                found[stem] = Path(entry.path)
    problems.missing = [f"{n}.npy (or .png)" for n in names if n not in found]
    images: list[torch.Tensor] = []
    for name in names:
        path = found.get(name)
        if path is None:
            continue
        try:
            image = _read_image(path, shape)
        except _WrongSize as exc:
            problems.wrong_size.append(f"{path.name!r} {exc}")
            continue
        except _Unreadable as exc:
            problems.unreadable.append(f"{path.name!r} ({exc})")
            continue
        images.append(image)
    if any(vars(problems).values()):
        raise DataError(
            f"The outputs in {folder} do not match the split's {len(names)} samples. "
            + problems.message()
            + ".",
            hint=f"Write exactly one file per sample, named as the export names them "
            f"(00000.npy ... {names[-1] if names else '00000'}.npy, or .png), each "
            f"{' × '.join(map(str, shape.shape))} (channels × height × width).",
        )
    digest = hashlib.sha256()
    for name, image in zip(names, images, strict=True):
        digest.update(name.encode() + b"\0" + image.numpy().tobytes())
    stacked = torch.stack(images) if images else torch.empty((0, *shape.shape))
    return Outputs(stacked, digest.hexdigest())


def read_image(path: Path, shape: ImageShape) -> torch.Tensor:
    """One ``.npy`` or ``.png`` file (untrusted) as (C, H, W) float32 in the domain's units,
    with the checks :func:`read_outputs` makes.

    Raises:
        DataError: not a plain ``.npy``/``.png`` file, unreadable, or of another shape.
    """
    if path.is_symlink() or not path.is_file() or path.suffix.lower() not in (".npy", ".png"):
        raise DataError(f"{path} is not a plain .npy or .png file.")
    try:
        return _read_image(path, shape)
    except (_WrongSize, _Unreadable) as exc:
        raise DataError(
            f"{path} {exc}" if isinstance(exc, _WrongSize) else f"{path}: {exc}.",
            hint=f"Each image must be {' × '.join(map(str, shape.shape))} (channels × height × "
            "width) in the domain's units (.npy), or its window on the grey range (.png), as "
            "`medganbench datasets export` writes them.",
        ) from None


class _WrongSize(Exception):
    """A file holds an image of another shape (the message says which)."""


class _Unreadable(Exception):
    """A file is not a readable image of its format."""


def _read_image(path: Path, shape: ImageShape) -> torch.Tensor:
    """One output file as (C, H, W) float32 in domain units."""
    c, h, w = shape.shape
    size = path.stat().st_size
    if path.suffix.lower() == ".npy":
        limit = c * h * w * 8 + _NPY_HEADER
        if size > limit:
            raise _WrongSize(f"is {size} bytes, more than a {c}×{h}×{w} array can take")
        data = path.read_bytes()
        # The header's shape and dtype are checked before anything is allocated: a 200-byte
        # file may declare a (1, 100000, 100000) float64 array (74.5 GiB).
        _check_npy_header(data, shape)
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise _Unreadable(f"not a NumPy array file: {exc}") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
            raise _Unreadable("not a numeric array")
        if array.ndim == 2 and c == 1:
            array = array[None]
        if array.shape != (c, h, w):
            raise _WrongSize(f"is {tuple(array.shape)}, expected {(c, h, w)}")
        values = array.astype(np.float32)
    else:
        if size > c * h * w * 2 + _PNG_SLACK:
            raise _WrongSize(f"is {size} bytes, more than a {h}×{w} PNG can take")
        values = _read_png(path, shape)
    if not np.isfinite(values).all():
        raise _Unreadable("holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(values))


def _check_npy_header(data: bytes, shape: ImageShape) -> None:
    """Refuse a ``.npy`` file whose header declares another shape, a dtype that is not a plain
    integer or float of at most 8 bytes, or more (or fewer) bytes than the file holds.

    Raises:
        _WrongSize: the declared shape is not the expected one.
        _Unreadable: not a ``.npy`` file of version 1 or 2, or a dtype or size that does not fit.
    """
    c, h, w = shape.shape
    source = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(source)
        if version == (1, 0):
            declared, _, dtype = np.lib.format.read_array_header_1_0(source)
        elif version == (2, 0):
            declared, _, dtype = np.lib.format.read_array_header_2_0(source)
        else:
            raise _Unreadable(f".npy format version {version[0]}.{version[1]} is not read here")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise _Unreadable(f"not a NumPy array file: {exc}") from None
    declared = tuple(int(side) for side in declared)
    if declared != (c, h, w) and not (c == 1 and declared == (h, w)):
        raise _WrongSize(f"is {declared}, expected {(c, h, w)}")
    if dtype.hasobject:
        raise _Unreadable("not a NumPy array file: Object arrays need pickle, never used here")
    if dtype.kind not in "fiu" or dtype.itemsize > 8:
        raise _Unreadable(f"declares dtype {dtype}, not a plain integer or float array")
    if len(data) - source.tell() != c * h * w * dtype.itemsize:
        raise _Unreadable(
            f"holds {len(data) - source.tell()} bytes of data, its header declares "
            f"{c * h * w * dtype.itemsize}"
        )


def _read_png(path: Path, shape: ImageShape) -> np.ndarray:
    c, h, w = shape.shape
    try:
        with Image.open(io.BytesIO(path.read_bytes()), formats=["PNG"]) as picture:
            # The declared size is checked before any pixel is decoded.
            if picture.size != (w, h):
                raise _WrongSize(f"is {picture.size[0]}×{picture.size[1]} px, expected {w}×{h}")
            mode = picture.mode
            if c == 1 and mode in ("L", "I;16", "I;16B", "I"):
                grey = np.asarray(picture, dtype=np.float64)
                unit = grey[None] / (255.0 if mode == "L" else 65535.0)
            elif c == 3 and mode == "RGB":
                unit = np.asarray(picture, dtype=np.float64).transpose(2, 0, 1) / 255.0
            else:
                raise _Unreadable(f"PNG mode {mode} does not hold {c} channel(s)")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _Unreadable(f"not a PNG image: {exc}") from None
    low, high = shape.window
    return (low + np.clip(unit, 0.0, 1.0) * (high - low)).astype(np.float32)
