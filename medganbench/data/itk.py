"""MetaImage (``.mha``/``.mhd``) and NRRD (``.nrrd``/``.nhdr``) volumes, read with SimpleITK
after this module has checked the header itself.

SimpleITK would allocate whatever size a header declares and follow whatever data file a
detached header names. So the text header is parsed here first (at most
:data:`MAX_HEADER_BYTES`): the declared size must be 3-D and within the limits of
:mod:`medganbench.data.images`, the voxels scalar, and a detached data file must be a plain
file name beside the header — no folder, no ``..``, no list or pattern, not a link leading
elsewhere. Only then is the file decoded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medganbench.data.images import oversize
from medganbench.data.problems import DataFileError
from medganbench.data.volume import Volume, finite, to_slice_major

#: A header longer than this is not a header (MetaImage and NRRD headers are a few hundred bytes).
MAX_HEADER_BYTES = 64 * 1024
#: What to install for these formats.
INSTALL_HINT = "reading .mha/.mhd/.nrrd needs SimpleITK: pip install 'medganbench[mha]'"


def read_itk(path: Path) -> Volume:
    """Read a MetaImage or NRRD volume as a :class:`~medganbench.data.volume.Volume`.

    Raises:
        DataFileError: SimpleITK is missing, the header is malformed, declares a size over the
            limit, more or fewer than three axes, or vector voxels, names a data file
            elsewhere, or the data cannot be decoded.
    """
    header = _header_text(path)
    if path.name.lower().endswith((".nrrd", ".nhdr")):
        sizes, components, data_file = _nrrd_header(header)
    else:
        sizes, components, data_file = _metaimage_header(header)
    if len(sizes) != 3:
        raise DataFileError(f"{len(sizes)}-D data; expected a scalar 3-D volume")
    if components != 1:
        raise DataFileError("vector or colour voxels; expected a scalar 3-D volume")
    if (too_big := oversize(*sizes)) is not None:
        raise DataFileError(f"refused: {too_big}")
    if data_file is not None:
        _check_data_file(path, data_file)
    try:
        import SimpleITK as sitk
    except ImportError:
        raise DataFileError(INSTALL_HINT) from None
    try:
        image: Any = sitk.ReadImage(str(path))
        array = sitk.GetArrayViewFromImage(image)  # (z, y, x), C-ordered
    except Exception:  # noqa: BLE001 - ITK raises RuntimeError with reader details
        raise DataFileError("truncated or corrupt volume data") from None
    if array.ndim != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise DataFileError(f"{array.ndim}-D data; expected a scalar 3-D volume")
    if tuple(int(n) for n in image.GetSize()) != tuple(sizes):
        raise DataFileError("the decoded size differs from the size its header declares")
    # The (z, y, x) array becomes slice-major (x, y, z) float32 in the one copy that also
    # detaches it from the SimpleITK image.
    data, bad = finite(to_slice_major(array.transpose(2, 1, 0)))
    spacing = tuple(float(s) for s in image.GetSpacing())
    return Volume(data, spacing, bad)  # type: ignore[arg-type]


def detached_data_file(path: Path) -> Path | None:
    """The data file a detached header (``.mhd``, ``.nhdr``) names, when it is a plain file
    beside it (for fingerprints: its bytes are the volume's); ``None`` otherwise."""
    if not path.name.lower().endswith((".mhd", ".nhdr")):
        return None
    try:
        header = _header_text(path)
        if path.name.lower().endswith(".nhdr"):
            name = _nrrd_header(header)[2]
        else:
            name = _metaimage_header(header)[2]
        if name is None:
            return None
        _check_data_file(path, name)
    except DataFileError:
        return None
    return path.parent / name


def _header_text(path: Path) -> str:
    """The text header: everything up to the data (bounded by :data:`MAX_HEADER_BYTES`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(MAX_HEADER_BYTES)
    except OSError as exc:
        raise DataFileError(f"cannot be read ({exc.strerror})") from None
    text = head.decode("latin-1")
    # MetaImage ends its header with the ElementDataFile line, NRRD with an empty line.
    end = re.search(r"ElementDataFile[ \t]*=[^\n]*\n|\n\r?\n", text)
    if end is None and len(head) == MAX_HEADER_BYTES:
        raise DataFileError("its header is not terminated within 64 KiB")
    return text[: end.end()] if end else text


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split()]
    except ValueError:
        raise DataFileError(f"malformed {what} in its header") from None
    if not values or any(v < 1 for v in values):
        raise DataFileError(f"malformed {what} in its header")
    return values


def _metaimage_header(text: str) -> tuple[list[int], int, str | None]:
    """(sizes, components per voxel, detached data file or None) of a MetaImage header."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if "dimsize" not in fields or "elementdatafile" not in fields:
        raise DataFileError("not a MetaImage file (no DimSize or ElementDataFile)")
    sizes = _ints(fields["dimsize"], "DimSize")
    components = _ints(fields.get("elementnumberofchannels", "1"), "ElementNumberOfChannels")[0]
    data_file = fields["elementdatafile"]
    return sizes, components, None if data_file.upper() == "LOCAL" else data_file


def _nrrd_header(text: str) -> tuple[list[int], int, str | None]:
    """(sizes, components per voxel, detached data file or None) of a NRRD header."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("NRRD000"):
        raise DataFileError("not a NRRD file (no NRRD magic)")
    fields = {}
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep and not value.startswith("="):  # "key:=value" lines are free-form comments
            fields[key.strip().lower()] = value.strip()
    if "sizes" not in fields:
        raise DataFileError("malformed sizes in its header")
    sizes = _ints(fields["sizes"], "sizes")
    kinds = fields.get("kinds", "").lower().split()
    vector = {"vector", "rgb-color", "rgba-color", "2-vector", "3-vector", "4-vector", "list"}
    components = 1
    if kinds and len(kinds) == len(sizes) and kinds[0] in vector:
        components, sizes = sizes[0], sizes[1:]
    data_file = fields.get("data file", fields.get("datafile"))
    return sizes, components, data_file


def _check_data_file(header: Path, name: str) -> None:
    """A detached data file must be a plain file beside its header, not a link elsewhere."""
    plain = name and "/" not in name and "\\" not in name and name not in (".", "..")
    if not plain or " " in name or name.upper() == "LIST":
        raise DataFileError(
            "its header names a data file that is not a plain file name beside it (a folder, "
            "a list or a pattern); not read"
        )
    target = header.parent / name
    if target.is_symlink() or not target.is_file():
        raise DataFileError("the data file its header names is missing or a link; not read")


__all__ = ["INSTALL_HINT", "MAX_HEADER_BYTES", "detached_data_file", "read_itk"]
