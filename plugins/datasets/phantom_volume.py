"""Rendering the phantom as volumes: one subject's whole head on an isotropic 3-D grid.

The anatomy, tissue table and physics are the 2-D phantom's
(:mod:`~medganbench_plugins.datasets.phantom_render`): the analytic label function is sampled
plane by plane at levels spread through the whole head, on a grid supersampled 2× along every
axis, and :func:`~medganbench_plugins.datasets.phantom_render.render_tissues` turns the labels
into MR and CT with partial-volume averaging over each voxel's eight sub-samples, a 3-D CT blur,
CT noise, a 3-D MR bias field and Rician noise.

Grid. The volume is a cube of side :data:`FOV_MM` (the 2-D phantom's in-plane field of view,
``[-1, 1]`` at 100 mm per FOV unit) centred in-plane as the 2-D slices are and along the head
axis on the head's centre level, shifted by the subject's positioning offset. The head
(1.8 FOV units tall) fits with about 10 mm to spare at both ends. Voxels are isotropic,
``FOV_MM / size`` apart.

Array axes (D, H, W) are (level, y, x) of the 2-D phantom: D runs from the skull base to the
vertex (inferior → superior), H as the rows of a 2-D slice (y, anterior → posterior: the caudate
heads and frontal horns lie at −y, the thalami at +y, and the ventricle bodies diverge toward
+y), W as its columns (x). The phantom is mirror-symmetric up to its random asymmetries, so
nothing in its anatomy says which side is the patient's left; its axial slices are read as
radiologists display them (anterior up, the patient's right on the viewer's left), so x runs
right → left. Hence :data:`ORIENTATION` ``"SPL"``.

Readings (where a 3-D phantom had to choose):

* One smooth warp per subject, its x and y displacements smooth functions of (x, y, z) with the
  2-D warp's amplitude, so neighbouring planes are warped alike. The label function takes one
  level per plane, so the warp has no through-plane component.
* The scalp, skull and CSF shells are nested ellipsoids (each the head ellipsoid shortened by
  the thicknesses outside it, along the head axis too), cut exactly by every plane
  (``label_slice(..., nested=True)``); the 2-D slices use an approximation of that cut that
  does not close the skull over the brain near the poles, where they never go.
* Sulci are the 2-D phantom's angular clefts, turning slowly with level: in coronal and sagittal
  planes they run mostly along the head axis.
* Supersampling is 2× along the head axis too, so boundaries between planes carry partial
  volume as in-plane ones do; the label map is the majority of each voxel's eight sub-samples.

Every random draw comes from a :class:`numpy.random.Generator` seeded from the caller's entropy;
the anatomy is drawn exactly as the 2-D phantom draws it from the same entropy (so subject
``(seed, split, i)`` is the same head in both datasets), and the warp and bias draws do not
depend on the volume size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from medganbench_plugins.datasets.phantom_anatomy import (
    HEAD_CENTRE_LEVEL,
    LEVEL_TO_FOV,
    SubjectAnatomy,
    sample_subject,
)
from medganbench_plugins.datasets.phantom_fields import (
    evaluate_field,
    pixel_centres,
    random_smooth_field,
)
from medganbench_plugins.datasets.phantom_labels import label_slice
from medganbench_plugins.datasets.phantom_render import (
    BIAS_RANGE,
    WARP_AMPLITUDE,
    SliceImages,
    render_tissues,
)
from medganbench_plugins.datasets.phantom_tissues import SEQUENCES, SpinEcho

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

#: Side of the rendered cube in mm: the 2-D phantom's field of view, [-1, 1] FOV units.
FOV_MM = 200.0
#: Nibabel axis codes of the array axes (D, H, W); see the module docstring.
ORIENTATION = "SPL"
#: The stream of a subject's volume draws (the 2-D phantom draws its anatomy from ``entropy +
#: (0,)`` and its slices from ``entropy + (1, k)``); the volume's follow from ``entropy + (2,)``.
_VOLUME_STREAM = 2


def voxel_spacing_mm(size: int) -> float:
    """Distance between neighbouring voxel centres of a ``size``³ volume, mm (all axes)."""
    return FOV_MM / size


def plane_levels(n: int, offset: float = 0.0) -> F64:
    """Levels of the centres of ``n`` equal planes filling the cube along the head axis.

    Args:
        n: number of planes (the volume size, or twice it for the supersampled grid).
        offset: the subject's level offset (its positioning in the scanner).

    Returns:
        ``n`` increasing levels (inferior → superior), centred on the head's centre level.
    """
    levels: F64 = HEAD_CENTRE_LEVEL + offset + pixel_centres(n) / LEVEL_TO_FOV
    return levels


@dataclass(frozen=True)
class VolumeDraws:
    """The random parts of one subject's volume that do not depend on its size.

    Attributes:
        warp_x: coefficients (z, y, x) of the x displacement field (peak 1).
        warp_y: coefficients (z, y, x) of the y displacement field (peak 1).
        bias: coefficients (z, y, x) of the MR bias field (peak 1).
        bias_amplitude: peak relative deviation of the bias field.
    """

    warp_x: F64
    warp_y: F64
    bias: F64
    bias_amplitude: float


def sample_volume_draws(rng: np.random.Generator) -> VolumeDraws:
    """Draw a volume's warp and bias field (a fixed number of draws, independent of size), with
    the 2-D slice warp's frequencies and the 2-D bias field's."""
    return VolumeDraws(
        warp_x=random_smooth_field(rng, 2, dims=3),
        warp_y=random_smooth_field(rng, 2, dims=3),
        bias=random_smooth_field(rng, 1, dims=3),
        bias_amplitude=float(rng.uniform(*BIAS_RANGE)),
    )


def volume_labels(subject: SubjectAnatomy, draws: VolumeDraws, n: int) -> NDArray[np.uint8]:
    """The subject's tissue labels at the centres of an ``n``³ grid (the warp applied).

    Returns:
        (n, n, n) uint8 :class:`~medganbench_plugins.datasets.phantom_tissues.Label` values,
        indexed (level, y, x).
    """
    centres = pixel_centres(n)
    # Warp the sampling coordinates, not the images, as the 2-D renderer does: MR, CT, mask and
    # labels stay exactly aligned. Evaluated in float32 per plane to keep memory at 128³ low.
    dx = (evaluate_field(draws.warp_x, centres) * WARP_AMPLITUDE).astype(np.float32)
    dy = (evaluate_field(draws.warp_y, centres) * WARP_AMPLITUDE).astype(np.float32)
    x, y = centres.astype(np.float32)[None, :], centres.astype(np.float32)[:, None]
    planes = [
        label_slice(x + dx[k], y + dy[k], subject, float(level), nested=True)
        for k, level in enumerate(plane_levels(n, subject.level_offset))
    ]
    return np.stack(planes)


def render_volume(
    subject: SubjectAnatomy,
    draws: VolumeDraws,
    size: int,
    seq: SpinEcho,
    noise_rng: np.random.Generator,
) -> SliceImages:
    """Render one paired MR/CT volume of ``size``³ voxels.

    Args:
        subject: the subject's anatomy.
        draws: the volume's warp and bias field.
        size: output side length (≥ 2).
        seq: MR weighting.
        noise_rng: generator for the CT and MR noise (advanced by 3·size³ normals).

    Returns:
        The aligned MR, CT, mask and labels, each (size, size, size) indexed (D, H, W).
    """
    fine = volume_labels(subject, draws, 2 * size)
    bias = 1.0 + draws.bias_amplitude * evaluate_field(draws.bias, pixel_centres(size))
    return render_tissues(fine, subject, seq, bias, noise_rng)


@dataclass(frozen=True)
class SubjectVolume:
    """One subject's rendered head.

    Attributes:
        mr: (D, H, W) float32, a.u.
        ct: (D, H, W) float32, HU.
        mask: (D, H, W) bool.
        labels: (D, H, W) uint8 tissue labels.
        levels: (D,) the level of each plane (increasing: inferior → superior).
        has_lesion: whether the subject has a lesion.
    """

    mr: F32
    ct: F32
    mask: NDArray[np.bool_]
    labels: NDArray[np.uint8]
    levels: F64
    has_lesion: bool


def render_subject_volume(entropy: Sequence[int], size: int, weighting: str) -> SubjectVolume:
    """Generate one subject's head volume, deterministically from ``entropy``.

    Args:
        entropy: non-negative integers identifying the subject (e.g. seed, split, index). The
            anatomy comes from ``entropy + (0,)`` (the 2-D phantom's subject of the same
            entropy), the warp, bias and noise from ``entropy + (2,)``.
        size: output side length (≥ 2).
        weighting: a key of :data:`SEQUENCES`.

    Returns:
        The subject's :class:`SubjectVolume`.

    Raises:
        ValueError: ``size`` < 2 or an unknown weighting.
    """
    if size < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    if weighting not in SEQUENCES:
        raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(SEQUENCES)}")
    base = [int(e) for e in entropy]
    subject = sample_subject(np.random.default_rng(np.random.SeedSequence(base + [0])))
    rng = np.random.default_rng(np.random.SeedSequence(base + [_VOLUME_STREAM]))
    draws = sample_volume_draws(rng)  # before any size-dependent draw, see module docstring
    images = render_volume(subject, draws, size, SEQUENCES[weighting], rng)
    return SubjectVolume(
        mr=images.mr,
        ct=images.ct,
        mask=images.mask,
        labels=images.labels,
        levels=plane_levels(size, subject.level_offset),
        has_lesion=subject.lesion is not None,
    )


__all__ = [
    "FOV_MM",
    "ORIENTATION",
    "SubjectVolume",
    "VolumeDraws",
    "plane_levels",
    "render_subject_volume",
    "render_volume",
    "sample_volume_draws",
    "volume_labels",
    "voxel_spacing_mm",
]
