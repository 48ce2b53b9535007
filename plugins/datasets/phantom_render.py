"""Rendering the phantom: an analytic label function sampled to paired MR and CT slices.

One smooth random warp per slice moves the *sampling coordinates*, not the images, so every map
derived from the labels — MR, CT, the body mask and the label map — stays exactly aligned.
Labels are evaluated on a 2× supersampled grid, turned into tissue properties, and average-pooled
to the target size so edges carry partial-volume mixtures; the delivered label map gives each
pixel the tissue covering most of its four sub-samples. Every random draw comes from a
:class:`numpy.random.Generator` seeded from the caller's entropy, and the anatomy and warp draws
do not depend on the image size. The step from supersampled labels to images
(:func:`render_tissues`) works on volumes too; :mod:`~medganbench_plugins.datasets.phantom_volume`
renders whole heads with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from medganbench_plugins.datasets.phantom_anatomy import SubjectAnatomy, sample_subject
from medganbench_plugins.datasets.phantom_fields import (
    average_pool2,
    evaluate_field,
    gaussian_blur,
    pixel_centres,
    random_smooth_field,
    rician,
)
from medganbench_plugins.datasets.phantom_labels import label_slice, slice_levels
from medganbench_plugins.datasets.phantom_tissues import (
    SEQUENCES,
    Label,
    SpinEcho,
    mr_scale,
    spin_echo_signal,
    tissue_arrays,
)

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

#: Peak displacement of the per-slice elastic warp, FOV units (≈ 4 mm).
WARP_AMPLITUDE = 0.04
#: Range of the peak relative deviation of the MR bias field.
BIAS_RANGE = (0.08, 0.15)
#: CT blur, in output pixels (the scanner's point spread).
CT_BLUR_SIGMA = 0.5


@dataclass(frozen=True)
class SliceDraws:
    """The random parts of one slice that do not depend on the image size.

    Attributes:
        warp_x: coefficients of the x displacement field (peak 1).
        warp_y: coefficients of the y displacement field (peak 1).
        bias: coefficients of the MR bias field (peak 1).
        bias_amplitude: peak relative deviation of the bias field.
    """

    warp_x: F64
    warp_y: F64
    bias: F64
    bias_amplitude: float


def sample_slice_draws(rng: np.random.Generator) -> SliceDraws:
    """Draw a slice's warp and bias field (a fixed number of draws, independent of size)."""
    return SliceDraws(
        warp_x=random_smooth_field(rng, 2),
        warp_y=random_smooth_field(rng, 2),
        bias=random_smooth_field(rng, 1),
        bias_amplitude=float(rng.uniform(*BIAS_RANGE)),
    )


@dataclass(frozen=True)
class SliceImages:
    """One rendered slice, or volume (:func:`render_tissues` makes both).

    Attributes:
        mr: MR magnitude image in delivered a.u., (H, W) (a volume: (D, H, W)) float32.
        ct: CT image in HU, same shape, float32.
        mask: head mask, same shape, bool.
        labels: tissue of each pixel (a :class:`Label` value), same shape, uint8.
    """

    mr: F32
    ct: F32
    mask: NDArray[np.bool_]
    labels: NDArray[np.uint8]


def render_slice(
    subject: SubjectAnatomy,
    level: float,
    draws: SliceDraws,
    size: int,
    seq: SpinEcho,
    noise_rng: np.random.Generator,
) -> SliceImages:
    """Render one paired MR/CT slice of ``size × size`` pixels.

    Args:
        subject: the subject's anatomy.
        level: slice level.
        draws: the slice's warp and bias field.
        size: output side length (≥ 2).
        seq: MR weighting.
        noise_rng: generator for the CT and MR noise (advanced by 3·size² normals).

    Returns:
        The aligned MR, CT and mask.
    """
    fine = pixel_centres(2 * size)
    # Warp the sampling coordinates, not the image: every map derived from the labels moves
    # together, so MR, CT and mask stay aligned exactly.
    dx = evaluate_field(draws.warp_x, fine) * WARP_AMPLITUDE
    dy = evaluate_field(draws.warp_y, fine) * WARP_AMPLITUDE
    x = (fine[None, :] + dx).astype(np.float32)
    y = (fine[:, None] + dy).astype(np.float32)
    labels = label_slice(x, y, subject, level)
    bias = 1.0 + draws.bias_amplitude * evaluate_field(draws.bias, pixel_centres(size))
    return render_tissues(labels, subject, seq, bias, noise_rng)


def render_tissues(
    fine_labels: NDArray[np.uint8],
    subject: SubjectAnatomy,
    seq: SpinEcho,
    bias: F64,
    noise_rng: np.random.Generator,
) -> SliceImages:
    """Turn labels sampled on the 2× supersampled grid into the delivered images.

    Tissue properties are averaged over each output pixel (partial volume), CT is blurred by
    the scanner's point spread and gets Gaussian noise, MR gets the bias field and Rician
    noise. Works on a slice and on a volume alike.

    Args:
        fine_labels: :class:`Label` values on the supersampled grid, (2H, 2W) or (2D, 2H, 2W).
        subject: the subject (tissue table and noise levels).
        seq: MR weighting.
        bias: multiplicative MR bias field at the output size.
        noise_rng: generator for the CT noise, then the MR noise (advanced by 3 normals per
            output pixel).

    Returns:
        The aligned MR, CT, mask (at least half the pixel is head) and majority labels.
    """
    table = tissue_arrays(subject.tissues)
    mr_values = spin_echo_signal(table["pd"], table["t1"], table["t2"], seq) * mr_scale(seq)
    # Average tissue *properties* over each output pixel: a boundary pixel holds a mixture.
    ct = average_pool2(table["hu"].astype(np.float32)[fine_labels])
    mr = average_pool2(mr_values.astype(np.float32)[fine_labels])
    head_fraction = average_pool2((fine_labels != Label.AIR).astype(np.float32))

    ct = gaussian_blur(ct, CT_BLUR_SIGMA)
    ct = (ct + noise_rng.standard_normal(ct.shape) * subject.ct_noise_hu).astype(np.float32)
    mr = rician((mr * bias).astype(np.float32), subject.mr_noise, noise_rng)
    return SliceImages(mr=mr, ct=ct, mask=head_fraction >= 0.5, labels=majority_label(fine_labels))


def majority_label(fine: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The label covering most of each 2 × 2 block (2-D) or 2 × 2 × 2 block (3-D) of the
    supersampled grid (ties: the lower label), as a map at the output size."""
    coarse = tuple(side // 2 for side in fine.shape)
    n = len(coarse)
    # (h, 2, w, 2, ...) → (h, w, ..., 2, 2, ...) → (h, w, ..., 2**n): each block's samples.
    split = fine[tuple(slice(0, 2 * side) for side in coarse)].reshape(
        tuple(d for side in coarse for d in (side, 2))
    )
    blocks = split.transpose(*range(0, 2 * n, 2), *range(1, 2 * n, 2)).reshape(*coarse, 2**n)
    counts = np.stack([(blocks == label).sum(axis=-1) for label in Label], axis=0)
    return counts.argmax(axis=0).astype(np.uint8)


@dataclass(frozen=True)
class SubjectSlices:
    """All slices of one subject.

    Attributes:
        mr: (S, H, W) float32, a.u.
        ct: (S, H, W) float32, HU.
        mask: (S, H, W) bool.
        labels: (S, H, W) uint8 tissue labels (:class:`Label` values).
        levels: (S,) slice levels.
        has_lesion: whether the subject has a lesion (it need not cross every slice).
    """

    mr: F32
    ct: F32
    mask: NDArray[np.bool_]
    labels: NDArray[np.uint8]
    levels: F64
    has_lesion: bool


def render_subject(
    entropy: Sequence[int], n_slices: int, size: int, weighting: str
) -> SubjectSlices:
    """Generate one subject's slices, deterministically from ``entropy``.

    Args:
        entropy: non-negative integers identifying the subject (e.g. seed, split, index). The
            anatomy comes from ``entropy + (0,)`` and slice ``k`` from ``entropy + (1, k)``, so
            a subject's anatomy does not depend on ``n_slices`` and slices are independent.
        n_slices: slices per subject (≥ 1).
        size: output side length (≥ 2).
        weighting: a key of :data:`SEQUENCES`.

    Returns:
        The subject's :class:`SubjectSlices`.

    Raises:
        ValueError: ``n_slices`` < 1, ``size`` < 2 or an unknown weighting.
    """
    if size < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    if weighting not in SEQUENCES:
        raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(SEQUENCES)}")
    seq = SEQUENCES[weighting]
    base = [int(e) for e in entropy]
    subject = sample_subject(np.random.default_rng(np.random.SeedSequence(base + [0])))
    levels = slice_levels(n_slices, subject.level_offset)
    slices = []
    for k, level in enumerate(levels):
        rng = np.random.default_rng(np.random.SeedSequence(base + [1, k]))
        draws = sample_slice_draws(rng)  # before any size-dependent draw, see module docstring
        slices.append(render_slice(subject, float(level), draws, size, seq, rng))
    return SubjectSlices(
        mr=np.stack([s.mr for s in slices]),
        ct=np.stack([s.ct for s in slices]),
        mask=np.stack([s.mask for s in slices]),
        labels=np.stack([s.labels for s in slices]),
        levels=levels,
        has_lesion=subject.lesion is not None,
    )
