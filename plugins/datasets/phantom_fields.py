"""Smooth random fields (the warp and the MR bias field) and the image operations of the phantom
renderer: supersampled pixel centres, 2× average pooling, Gaussian blur and Rician noise. Pure
numpy.

Every operation works on 2-D slices and on 3-D volumes alike (the field's dimensions follow its
coefficient array, pooling and blur act on every axis); on 2-D input each one does exactly the
arithmetic it did before it was generalised, so the 2-D phantom's data are unchanged.
"""

from __future__ import annotations

import itertools
import math
from functools import reduce

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


#: A fixed reference grid used to normalise random smooth fields, so their amplitude does not
#: depend on the image size.
_REFERENCE_GRID = np.linspace(-1.0, 1.0, 33)


def _fourier_basis(coords: F64, n_freq: int) -> F64:
    """1-D basis ``[1, cos(ω₁x), sin(ω₁x), …]``, ω_k = πk/2, shape (len(coords), 2K+1).

    The lowest non-constant mode has one half period across the FOV, so fields built from it
    are smooth on the scale of the head.
    """
    cols = [np.ones_like(coords)]
    for k in range(1, n_freq + 1):
        w = math.pi * k / 2.0
        cols += [np.cos(w * coords), np.sin(w * coords)]
    return np.stack(cols, axis=1)


def random_smooth_field(rng: np.random.Generator, n_freq: int, dims: int = 2) -> F64:
    """Draw coefficients of a separable low-frequency field, normalised to peak 1.

    Args:
        rng: generator to draw from (advanced by ``(2·n_freq + 1)**dims`` normals).
        n_freq: highest frequency index per axis.
        dims: dimensions of the field (2: a slice, 3: a volume).

    Returns:
        Coefficient array ``C`` of ``dims`` axes (for 2-D, rows: y basis, columns: x basis; for
        3-D, axes z, y, x); evaluate it with :func:`evaluate_field`. The peak |value| over a
        fixed reference grid is 1, independent of the resolution it is later evaluated at.
    """
    n = 2 * n_freq + 1
    order = np.array([0] + [k for k in range(1, n_freq + 1) for _ in (0, 1)], dtype=np.float64)
    # Power falls with frequency so the field is dominated by its smoothest modes.
    decay = 1.0 / (1.0 + reduce(np.add.outer, [order] * dims))
    coeffs = rng.standard_normal((n,) * dims) * decay
    coeffs[(0,) * dims] = 0.0  # zero mean: the warp should not shift the whole head
    peak = np.abs(evaluate_field(coeffs, _REFERENCE_GRID)).max()
    return coeffs / max(peak, 1e-12)


def evaluate_field(coeffs: F64, coords: F64) -> F64:
    """Evaluate a field from :func:`random_smooth_field` on the grid ``coords`` along every axis.

    Args:
        coeffs: coefficient array of shape (2K+1,) * dims.
        coords: 1-D sample positions in FOV units, used for every axis.

    Returns:
        Array of shape (len(coords),) * dims, indexed like ``coeffs`` ([y, x] for 2-D,
        [z, y, x] for 3-D). Separability makes this a handful of contractions and outer
        products instead of a per-pixel sum of trigonometric terms.
    """
    n_freq = (coeffs.shape[0] - 1) // 2
    basis = _fourier_basis(coords, n_freq)
    # Contract every axis but the last with its basis, one at a time: (n, ..., n) → (N, ..., n).
    left = coeffs
    for axis in range(coeffs.ndim - 1):
        shape = (1,) * axis + basis.shape + (1,) * (coeffs.ndim - axis - 1)
        left = (basis.reshape(shape) * np.expand_dims(left, axis)).sum(axis=axis + 1)
    # Deliberately not ``left @ basis.T``: on a busy machine a multi-threaded BLAS spin-waits
    # for cores it does not get, which made generation several times slower in measurements.
    out = np.zeros((coords.size,) * coeffs.ndim)
    for k in range(basis.shape[1]):
        out += np.multiply.outer(left[..., k], basis[:, k])
    return out


def pixel_centres(n: int) -> F64:
    """Centres of ``n`` equal pixels spanning the FOV [−1, 1]."""
    return (np.arange(n, dtype=np.float64) * 2.0 + 1.0) / n - 1.0


def average_pool2(image: NDArray[np.floating]) -> F32:
    """Mean over non-overlapping 2×2 (2-D) or 2×2×2 (3-D) blocks: partial-volume averaging of
    the supersampled grid.

    Raises:
        ValueError: a side length is odd.
    """
    if any(side % 2 for side in image.shape):
        raise ValueError(f"average_pool2 needs even sides, got {image.shape}")
    x = image.astype(np.float32, copy=False)
    # The block's samples added one after another in index order (for 2-D: x00 + x01 + x10 +
    # x11, the order this function has always summed in, so 2-D results keep every bit).
    parts = (
        x[tuple(slice(o, None, 2) for o in offset)]
        for offset in itertools.product((0, 1), repeat=x.ndim)
    )
    total = next(parts)
    for part in parts:
        total = total + part
    return total * np.float32(0.5**x.ndim)


def gaussian_blur(image: F32, sigma: float) -> F32:
    """Separable Gaussian blur along every axis with edge replication (kernel radius
    ``ceil(3σ)``).

    Args:
        image: 2-D or 3-D array.
        sigma: standard deviation in pixels (> 0).

    Returns:
        The blurred image, float32, same shape.
    """
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    out = image.astype(np.float64)
    for axis in range(out.ndim):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(i, i + n), axis=axis) for i, w in enumerate(kernel))
    return out.astype(np.float32)


def rician(signal: F32, sigma: float, rng: np.random.Generator) -> F32:
    """Magnitude of a complex signal with Gaussian noise of std ``sigma`` on both channels.

    This is how magnitude MR images are formed, so dark regions get a positive noise floor
    (about 1.25σ) rather than zero-mean noise.
    """
    noise = rng.standard_normal((2, *signal.shape)) * sigma
    return np.hypot(signal + noise[0], noise[1]).astype(np.float32)


__all__ = [
    "average_pool2",
    "evaluate_field",
    "gaussian_blur",
    "pixel_centres",
    "random_smooth_field",
    "rician",
]
