"""Procedural 2-D brain phantom: an analytic label function rendered to paired MR and CT slices.

This module is pure generation (numpy only, no plugin machinery); the ``phantom-brain`` dataset
plugin in :mod:`medganbench_plugins.datasets.phantom_brain` wraps it.

The anatomy of a slice is a *continuous* function ``label(x, y)`` over the field of view
``[-1, 1]²`` (x to the right, y downwards = posterior): nested head ellipses (scalp, outer bone
table, marrow, inner bone table, CSF), a cortex whose outline is modulated by a random sum of
angular sinusoids and cut by narrow sulcal clefts, white matter with gyral fingers, an
interhemispheric fissure, lateral and third ventricles and deep gray nuclei at mid levels, and
for about half of the subjects a lesion (a lumpy sphere, so it appears in a few neighbouring
slices only). One smooth random warp per slice moves the *sampling coordinates*,
not the images, so every tissue map derived from the labels — MR, CT and the body mask — stays
exactly aligned. Labels are evaluated on a 2× supersampled grid, turned into tissue properties,
and average-pooled to the target size so edges carry partial-volume mixtures.

Every random draw comes from a :class:`numpy.random.Generator` seeded from the caller's entropy
(never global state), and the anatomy and warp draws do not depend on the image size, so the same
subject is the same continuous object at every resolution; only the sampling and the noise
differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from medganbench_plugins.datasets.phantom_tissues import TISSUES, Label, Tissue

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Geometry constants (field-of-view units: the FOV is [-1, 1]², i.e. 1 unit ≈ 100 mm)
# --------------------------------------------------------------------------------------------

#: Slice levels run from skull base (−1) to vertex (+1); slices are spread over this range. The
#: top is kept below the vertex so even the highest slice still shows a brain.
LEVEL_RANGE = (-0.45, 0.5)
#: The head's cross-section is that of an ellipsoid centred at this level with this half height.
HEAD_CENTRE_LEVEL = -0.15
HEAD_HALF_HEIGHT = 1.0
#: Shell thicknesses from the outside in (scalp, outer table, diploë, inner table, CSF). Slightly
#: thicker than life so the bone tables survive partial-volume averaging at 64 px.
SHELL_THICKNESS: tuple[tuple[Label, float], ...] = (
    (Label.SCALP, 0.05),
    (Label.BONE, 0.028),
    (Label.MARROW, 0.03),
    (Label.BONE, 0.024),
    (Label.CSF, 0.0),  # the CSF gap is set by the cortex surface, see _label_brain
)
#: One level unit in FOV units (the head is about 1.8 units tall); converts level distances to
#: in-plane distances for the spherical lesion.
LEVEL_TO_FOV = 0.9
#: Brain-normalised reach of the deep structures and the lesion (nuclei reach |u| ≈ 0.45, a
#: lesion centre lies within 0.55 and its lumpy radius is below 0.24).
DEEP_REACH = 0.85
#: Angular resolution of the tabulated cortex profiles (evaluating the sinusoid sums per pixel
#: would dominate the run time; a periodic linear interpolation of a table is exact enough).
_PROFILE_SAMPLES = 4096


# --------------------------------------------------------------------------------------------
# Random anatomy parameters
# --------------------------------------------------------------------------------------------


_PROFILE_ANGLES = np.linspace(-math.pi, math.pi, _PROFILE_SAMPLES, endpoint=False)


@dataclass(frozen=True, eq=False)
class AngleLookup:
    """Precomputed linear-interpolation positions of angles in the periodic profile tables.

    Several profiles are read at the same angles, so the positions are computed once; this is
    also several times faster than :func:`numpy.interp` with ``period``, which sorts its input.

    Attributes:
        index: lower table index per angle.
        frac: interpolation weight of the next entry.
    """

    index: NDArray[np.intp]
    frac: F32

    @classmethod
    def at(cls, theta: F32) -> AngleLookup:
        """Positions of angles ``theta`` (radians, any shape, any range)."""
        pos = np.mod(theta + np.float32(math.pi), np.float32(2 * math.pi))
        pos *= np.float32(_PROFILE_SAMPLES / (2 * math.pi))
        index = np.minimum(pos.astype(np.intp), _PROFILE_SAMPLES - 1)
        return cls(index=index, frac=(pos - index).astype(np.float32))

    def __call__(self, table: F64) -> F32:
        """Interpolate a table over :data:`_PROFILE_ANGLES` at these angles."""
        ext = np.append(table, table[0]).astype(np.float32)  # periodic: entry S is entry 0
        lower = ext[self.index]
        return lower + self.frac * (ext[self.index + 1] - lower)


@dataclass(frozen=True, eq=False)
class AngularProfile:
    """A smooth periodic function of angle, ``Σ_k amp_k·sin(freq_k·θ + phase_k + drift_k·z)``.

    The sum is divided by ``Σ amp_k`` so values lie in [−1, 1]. ``drift`` lets the pattern
    change smoothly with slice level ``z``, as gyri do between neighbouring slices.

    Attributes:
        freqs: integer angular frequencies (periodic in θ).
        amps: non-negative amplitudes.
        phases: phases in radians.
        drift: phase change per level unit.
    """

    freqs: F64
    amps: F64
    phases: F64
    drift: F64

    def tabulate(self, level: float) -> F64:
        """Values on :data:`_PROFILE_ANGLES` for slice ``level``."""
        args = np.outer(_PROFILE_ANGLES, self.freqs) + (self.phases + self.drift * level)
        # An explicit sum rather than ``@``: no BLAS threads, see evaluate_field.
        return (np.sin(args) * self.amps).sum(axis=1) / self.amps.sum()


def _random_profile(rng: np.random.Generator, low: int, high: int) -> AngularProfile:
    """A random :class:`AngularProfile` with frequencies ``low..high`` and a 1/f spectrum.

    The 1/f decay keeps the outline smooth at the large scale with small folds on top, which is
    what makes it read as gyri rather than noise.
    """
    freqs = np.arange(low, high + 1, dtype=np.float64)
    return AngularProfile(
        freqs=freqs,
        amps=rng.uniform(0.3, 1.0, freqs.size) / freqs,
        phases=rng.uniform(0.0, 2 * math.pi, freqs.size),
        drift=rng.normal(0.0, 4.0, freqs.size),
    )


@dataclass(frozen=True, eq=False)
class SulcalPattern:
    """Sulci as narrow angular notches: ``Σ_k depth_k·max(0, 1 − (Δθ_k/width_k)²)``.

    A sum of sinusoids alone gives a wavy but smooth outline; real sulci are narrow, deep
    clefts between broad gyral crowns, which separate bumps reproduce. Each sulcus's angle drifts
    with slice level so the pattern changes smoothly between neighbouring slices.

    Attributes:
        angles: sulcus angles at level 0, radians.
        widths: angular half widths, radians.
        depths: depths in brain-normalised radius units.
        drift: angle change per level unit.
    """

    angles: F64
    widths: F64
    depths: F64
    drift: F64

    def tabulate(self, level: float, widen: float = 1.0) -> F64:
        """Depth on :data:`_PROFILE_ANGLES`; ``widen`` scales every width (for the white matter,
        which recedes under a sulcus over a wider angle than the cleft itself)."""
        table = np.zeros(_PROFILE_SAMPLES)
        step = 2 * math.pi / _PROFILE_SAMPLES
        centres = self.angles + self.drift * level
        # Each notch touches only a few dozen table entries, so visit just those (a dense
        # angles × sulci distance matrix would cost more than all the rest of a slice).
        for centre, width, depth in zip(centres, self.widths * widen, self.depths, strict=True):
            first = math.floor((centre - width + math.pi) / step)
            index = np.arange(first, math.ceil((centre + width + math.pi) / step) + 1)
            delta = (index * step - math.pi) - centre
            bump = depth * np.clip(1.0 - np.square(delta / width), 0.0, None)
            wrapped = index % _PROFILE_SAMPLES  # the table is periodic
            table[wrapped] = np.maximum(table[wrapped], bump)
        return table


def _random_sulci(rng: np.random.Generator) -> SulcalPattern:
    """About two dozen sulci, evenly spread with jitter so no stretch of cortex is bare."""
    n = int(rng.integers(18, 27))
    spacing = 2 * math.pi / n
    return SulcalPattern(
        angles=np.arange(n) * spacing + rng.uniform(-0.4, 0.4, n) * spacing,
        widths=rng.uniform(0.02, 0.035, n),
        depths=rng.uniform(0.06, 0.24, n),
        drift=rng.normal(0.0, 0.5, n),
    )


@dataclass(frozen=True)
class Lesion:
    """A roughly spherical lesion in brain-normalised coordinates.

    Attributes:
        u: centre, left-right, as a fraction of the brain's half width.
        v: centre, anterior-posterior, as a fraction of the brain's half length.
        level: centre slice level.
        radius: radius in brain-normalised units.
        lobes: amplitudes of the 2nd and 3rd angular harmonics of its outline (irregularity).
        phases: phases of those harmonics.
    """

    u: float
    v: float
    level: float
    radius: float
    lobes: tuple[float, float]
    phases: tuple[float, float]


@dataclass(frozen=True, eq=False)
class SubjectAnatomy:
    """Everything random about one subject; a slice adds only its warp, bias field and noise.

    Attributes:
        head_a: head half width (x) at the widest level, FOV units.
        head_b: head half length (y) at the widest level, FOV units.
        rotation: in-plane head rotation, radians.
        centre: head centre offset (x, y), FOV units.
        level_offset: shift of this subject's slice levels (positioning differs per scan).
        shell_scale: scale of scalp and skull thicknesses.
        csf_gap: mean cortex-to-skull CSF gap, FOV units.
        sulci: the sulcal clefts of the cortex.
        gyri: smooth wobble of the cortex and white-matter outlines.
        bend: how the sulcal clefts curve with depth.
        white_fraction: white-matter radius as a fraction of the brain radius.
        ventricle_scale: (left, right) ventricle size factors; unequal for asymmetry.
        lesion: the lesion, or ``None``.
        tissues: this subject's jittered tissue table.
        ct_noise_hu: standard deviation of the CT noise, HU.
        mr_noise: standard deviation of each complex MR noise channel, delivered a.u.
    """

    head_a: float
    head_b: float
    rotation: float
    centre: tuple[float, float]
    level_offset: float
    shell_scale: float
    csf_gap: float
    sulci: SulcalPattern
    gyri: AngularProfile
    bend: AngularProfile
    white_fraction: float
    ventricle_scale: tuple[float, float]
    lesion: Lesion | None
    tissues: tuple[Tissue, ...]
    ct_noise_hu: float
    mr_noise: float


def sample_subject(rng: np.random.Generator) -> SubjectAnatomy:
    """Draw one subject's anatomy and acquisition parameters.

    Args:
        rng: the subject's own generator; it is advanced by a fixed number of draws.

    Returns:
        The subject's :class:`SubjectAnatomy`.
    """
    head_a = 0.74 * rng.uniform(0.94, 1.06)
    head_b = 0.86 * rng.uniform(0.95, 1.05)
    rotation = math.radians(rng.uniform(-8.0, 8.0))
    centre = (float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03)))
    return SubjectAnatomy(
        head_a=float(head_a),
        head_b=float(head_b),
        rotation=rotation,
        centre=centre,
        level_offset=float(rng.uniform(-0.04, 0.04)),
        shell_scale=float(rng.uniform(0.9, 1.15)),
        csf_gap=float(rng.uniform(0.035, 0.05)),
        sulci=_random_sulci(rng),
        gyri=_random_profile(rng, 6, 20),
        bend=_random_profile(rng, 2, 6),
        white_fraction=float(rng.uniform(0.68, 0.74)),
        ventricle_scale=(float(rng.uniform(0.75, 1.3)), float(rng.uniform(0.75, 1.3))),
        lesion=_sample_lesion(rng),
        tissues=_jitter_tissues(rng, TISSUES),
        ct_noise_hu=float(rng.uniform(3.0, 5.0)),
        mr_noise=float(rng.uniform(0.012, 0.02)),
    )


def _sample_lesion(rng: np.random.Generator) -> Lesion | None:
    """A lesion for about half of the subjects, centred in the white matter.

    The draws are made whether or not the subject gets a lesion, so the generator advances by the
    same amount for every subject.
    """
    present = rng.uniform() < 0.5
    angle = rng.uniform(0.0, 2 * math.pi)
    dist = rng.uniform(0.25, 0.55)
    lesion = Lesion(
        u=float(dist * math.cos(angle)),
        v=float(dist * math.sin(angle)),
        level=float(rng.uniform(LEVEL_RANGE[0] + 0.1, LEVEL_RANGE[1] - 0.1)),
        radius=float(rng.uniform(0.1, 0.18)),
        lobes=(float(rng.uniform(0.0, 0.2)), float(rng.uniform(0.0, 0.12))),
        phases=(float(rng.uniform(0.0, 2 * math.pi)), float(rng.uniform(0.0, 2 * math.pi))),
    )
    return lesion if present else None


def _jitter_tissues(rng: np.random.Generator, tissues: Sequence[Tissue]) -> tuple[Tissue, ...]:
    """Per-subject tissue table: every property of every tissue but air scaled by 1 ± 4 %.

    Air is physics (−1000 HU, no protons), so it is not jittered. Jittering MR and CT
    independently also keeps the MR→CT relation from being one fixed curve across subjects.
    """
    out = [tissues[0]]
    for tissue in tissues[1:]:
        f = rng.uniform(0.96, 1.04, 4)
        out.append(
            replace(
                tissue,
                hu=tissue.hu * f[0],
                pd=tissue.pd * f[1],
                t1_ms=tissue.t1_ms * f[2],
                t2_ms=tissue.t2_ms * f[3],
            )
        )
    return tuple(out)


__all__ = [
    "DEEP_REACH",
    "HEAD_CENTRE_LEVEL",
    "HEAD_HALF_HEIGHT",
    "LEVEL_RANGE",
    "LEVEL_TO_FOV",
    "SHELL_THICKNESS",
    "AngleLookup",
    "AngularProfile",
    "Lesion",
    "SubjectAnatomy",
    "SulcalPattern",
    "sample_subject",
]
