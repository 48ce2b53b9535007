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
from medganbench.data.volume import Volume, finite, slice_major, to_slice_major


def read_nifti(path: Path, volume_index: int = -1) -> Volume:
    """Read a ``.nii``/``.nii.gz`` file (``scl_slope``/``scl_inter`` applied) as a
    :class:`~medganbench.data.volume.Volume`.

    Trailing singleton axes beyond the third are dropped first ((x, y, z, 1) is a 3-D volume).
    The stored voxels are read once and written, scaled and converted to float32, in the
    toolkit's slice-major layout (:func:`~medganbench.data.volume.slice_major`), a few planes at
    a time.

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


#: z-planes converted per step: nibabel may scale in float64, and a whole float64 copy of a
#: large volume costs more memory traffic than the decode itself.
SCALE_CHUNK = 8


def _decode(proxy: object, shape: tuple[int, ...], volume_index: int) -> np.ndarray:
    """The voxels as slice-major float32 (X, Y, Z), equal to ``numpy.asarray(proxy,
    dtype=float32)``.

    The same arithmetic as nibabel's (its scale factors, its choice of float type, then a cast
    to float32), a few z-planes at a time, each written straight into its place in the
    slice-major array: no whole-volume float64 copy, no second pass to reorder.
    """
    if len(shape) == 4:
        # Index only the wanted volume so a long 4-D series is not read whole.
        raw = np.asarray(proxy[..., volume_index], dtype=np.float32)  # type: ignore[index]
        return to_slice_major(raw.reshape(shape[:3], order="A"))
    if not isinstance(proxy, ArrayProxy):
        return to_slice_major(np.asarray(proxy, dtype=np.float32).reshape(shape, order="A"))
    # As nibabel's ArrayProxy scales for a float32 request.
    slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
    if np.can_cast(slope, np.float32):
        slope = slope.astype(np.float32)
    if np.can_cast(inter, np.float32):
        inter = inter.astype(np.float32)
    raw = np.asarray(proxy.get_unscaled()).reshape(shape, order="A")  # type: ignore[no-untyped-call]
    planes = np.empty((shape[2], shape[0], shape[1]), dtype=np.float32)
    for start in range(0, shape[2], SCALE_CHUNK):
        part = raw[:, :, start : start + SCALE_CHUNK]
        if (slope, inter) != (1, 0):
            part = apply_read_scaling(part, slope, inter)
        planes[start : start + SCALE_CHUNK] = np.moveaxis(part, 2, 0)
    return slice_major(planes)


__all__ = ["read_nifti"]
