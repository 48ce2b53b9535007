"""2-D slices cut from volumes: square padding, resizing, masks and label maps.

Every delivered slice is its native plane padded to a centred square and resized to
``--image-size`` (bilinear, antialiased when shrinking). Images are padded with their own
minimum (the background, so no bright frame appears and the anatomy keeps its aspect ratio);
masks and label maps with 0 (outside). A mask is resized like an image and kept where at least
half of a pixel is inside; a label map is resized by nearest neighbour (a class index has no
average). Planes are resized in chunks of :data:`CHUNK` at once: one call per chunk rather than
one per slice, with the same kernel, so the values equal a slice-by-slice resize.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Planes resized per interpolation call (bounds the memory of a long volume's resize).
CHUNK = 64


def square_stack(
    planes: np.ndarray | torch.Tensor, size: int, fill: float | None = None
) -> torch.Tensor:
    """Pad (n, h, w) planes to centred squares and resize them (bilinear, antialiased when
    shrinking) to ``size``.

    Args:
        planes: float32 planes.
        size: the output side.
        fill: the padding value; ``None`` pads each plane with its own minimum.

    Returns:
        float32 tensor (n, 1, size, size).
    """
    t = torch.as_tensor(planes, dtype=torch.float32)
    n, h, w = t.shape
    side = max(h, w)
    out = torch.empty((n, 1, size, size), dtype=torch.float32)
    for start in range(0, n, CHUNK):
        part = t[start : start + CHUNK]
        if h != w:
            if fill is None:
                values = part.amin(dim=(1, 2)) if part.numel() else part.new_zeros(len(part))
            else:
                values = torch.full((len(part),), float(fill))
            square = values[:, None, None].expand(len(part), side, side).clone()
            top, left = (side - h) // 2, (side - w) // 2
            square[:, top : top + h, left : left + w] = part
            part = square
        if side == size:
            out[start : start + CHUNK, 0] = part
        else:
            out[start : start + CHUNK] = F.interpolate(
                part[:, None],
                size=(size, size),
                mode="bilinear",
                align_corners=False,
                antialias=side > size,
            )
    return out


def square_mask(planes: np.ndarray, size: int) -> torch.Tensor:
    """Masks (nonzero inside) padded with 0, resized like images, kept where ≥ one half.

    Returns:
        bool tensor (n, 1, size, size).
    """
    return square_stack((planes > 0).astype(np.float32), size, fill=0.0) >= 0.5


def square_labels(planes: np.ndarray, size: int) -> torch.Tensor:
    """Label maps (class indices) padded with 0 and resized by nearest neighbour.

    Returns:
        uint8 tensor (n, 1, size, size).
    """
    t = torch.as_tensor(planes, dtype=torch.float32)
    n, h, w = t.shape
    side = max(h, w)
    square = torch.zeros((n, side, side), dtype=torch.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[:, top : top + h, left : left + w] = t
    resized = F.interpolate(square[:, None], size=(size, size), mode="nearest-exact")
    return resized.round().to(torch.uint8)


def square_slice(plane: np.ndarray, size: int) -> torch.Tensor:
    """One plane as :func:`square_stack` delivers it: (1, size, size) float32."""
    return square_stack(np.asarray(plane, dtype=np.float32)[None], size)[0]


__all__ = ["CHUNK", "square_labels", "square_mask", "square_slice", "square_stack"]
