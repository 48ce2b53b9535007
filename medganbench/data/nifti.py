"""NIfTI volumes with nibabel: the header's size is checked before any voxel is decoded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.arrayproxy import ArrayProxy
from nibabel.volumeutils import apply_read_scaling

from medganbench.data.images import oversize
from medganbench.data.problems import DataFileError
from medganbench.data.volume import Volume, finite


def read_nifti(path: Path, volume_index: int = -1) -> Volume:
    """Read a ``.nii``/``.nii.gz`` file (``scl_slope``/``scl_inter`` applied) as a
    :class:`~medganbench.data.volume.Volume`.

    Trailing singleton axes beyond the third are dropped first ((x, y, z, 1) is a 3-D volume).
    NIfTI stores x fastest, so nibabel's array is Fortran-ordered and its z-planes are already
    contiguous: the data are read once and not reordered.

    Args:
        path: the file.
        volume_index: for 4-D data, the index along the 4th axis; -1 means "must be 3-D".

    Raises:
        DataFileError: not a readable NIfTI file, truncated, over the size limit, or not 3-D /
            4-D with ``volume_index`` in range.
    """
    try:
        image: Any = nib.load(str(path))
        shape = tuple(int(n) for n in image.shape)
        zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
    except Exception:  # noqa: BLE001 - nibabel raises many types for foreign or damaged headers
        raise DataFileError("not a readable NIfTI file") from None
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) == 4 and volume_index == -1 and shape[3] > 1:
        raise DataFileError(f"4-D volume ({shape[3]} volumes); pass volume_index to pick one")
    if len(shape) == 4 and not 0 <= volume_index < shape[3]:
        raise DataFileError(
            f"volume_index {volume_index} is out of range (4th axis has {shape[3]})"
        )
    if len(shape) not in (3, 4):
        raise DataFileError(f"{len(shape)}-D data; expected a 3-D volume or a 4-D series")
    if (too_big := oversize(*shape[:3])) is not None:
        raise DataFileError(f"refused: {too_big}")
    try:
        data = _decode(image.dataobj, shape, volume_index)
    except Exception:  # noqa: BLE001 - gzip/zlib/EOF errors of a truncated file surface only here
        raise DataFileError("truncated or corrupt NIfTI data") from None
    data, bad = finite(data)
    spacing = tuple(z if z > 0 else 1.0 for z in (*zooms, 1.0, 1.0, 1.0)[:3])
    return Volume(data, spacing, bad)  # type: ignore[arg-type]


#: z-planes scaled per step: nibabel may scale in float64, and a whole float64 copy of a large
#: volume costs more memory traffic than the decode itself.
SCALE_CHUNK = 8


def _decode(proxy: object, shape: tuple[int, ...], volume_index: int) -> np.ndarray:
    """The voxels as float32 (X, Y, Z), equal to ``numpy.asarray(proxy, dtype=float32)``.

    The same arithmetic as nibabel's (its scale factors, its choice of float type, then a cast
    to float32), a few z-planes at a time into one Fortran-ordered float32 array, so that the
    z-planes stay contiguous and no whole-volume float64 copy is made.
    """
    if len(shape) == 4:
        # Index only the wanted volume so a long 4-D series is not read whole.
        return np.asarray(proxy[..., volume_index], dtype=np.float32).reshape(shape[:3], order="A")  # type: ignore[index]
    if not isinstance(proxy, ArrayProxy):
        return np.asarray(proxy, dtype=np.float32).reshape(shape, order="A")
    # As nibabel's ArrayProxy scales for a float32 request.
    slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
    if np.can_cast(slope, np.float32):
        slope = slope.astype(np.float32)
    if np.can_cast(inter, np.float32):
        inter = inter.astype(np.float32)
    raw = np.asarray(proxy.get_unscaled()).reshape(shape, order="A")  # type: ignore[no-untyped-call]
    if (slope, inter) == (1, 0):
        return raw.astype(np.float32, order="K", copy=False)
    out = np.empty(shape, dtype=np.float32, order="F")
    for start in range(0, shape[2], SCALE_CHUNK):
        part = slice(start, start + SCALE_CHUNK)
        out[:, :, part] = apply_read_scaling(raw[:, :, part], slope, inter)
    return out


__all__ = ["read_nifti"]
