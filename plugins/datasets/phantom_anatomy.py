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
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# --------------------------------------------------------------------------------------------
# Tissues and MR sequences
# --------------------------------------------------------------------------------------------


class Label(IntEnum):
    """Tissue labels of the phantom; the value indexes :data:`TISSUES`."""

    AIR = 0
    SCALP = 1
    BONE = 2
    MARROW = 3
    CSF = 4
    GRAY = 5
    WHITE = 6
    NUCLEI = 7
    LESION = 8


@dataclass(frozen=True)
class Tissue:
    """Physical properties of one tissue.

    Attributes:
        name: human name.
        hu: CT attenuation in Hounsfield units.
        pd: proton density relative to water (0 for air).
        t1_ms: longitudinal relaxation time in ms.
        t2_ms: transverse relaxation time in ms.
    """

    name: str
    hu: float
    pd: float
    t1_ms: float
    t2_ms: float


#: Nominal tissue table, indexed by :class:`Label`. Brain and CSF relaxation values are the usual
#: 1.5 T textbook values; scalp is treated as fatty soft tissue; cortical bone has almost no mobile
#: protons and a T2 of about a millisecond, so it is dark on every spin-echo weighting (as is air,
#: PD 0) while CT separates the two by more than 2000 HU — MR→CT is not a lookup table.
TISSUES: tuple[Tissue, ...] = (
    Tissue("air", hu=-1000.0, pd=0.0, t1_ms=1.0, t2_ms=1.0),
    Tissue("scalp", hu=-60.0, pd=0.90, t1_ms=350.0, t2_ms=80.0),
    Tissue("cortical bone", hu=1200.0, pd=0.05, t1_ms=500.0, t2_ms=1.0),
    Tissue("marrow", hu=450.0, pd=0.75, t1_ms=400.0, t2_ms=60.0),
    Tissue("CSF", hu=8.0, pd=1.00, t1_ms=4000.0, t2_ms=2000.0),
    Tissue("gray matter", hu=40.0, pd=0.80, t1_ms=1100.0, t2_ms=95.0),
    Tissue("white matter", hu=28.0, pd=0.68, t1_ms=650.0, t2_ms=75.0),
    Tissue("deep gray nuclei", hu=40.0, pd=0.76, t1_ms=950.0, t2_ms=85.0),
    Tissue("lesion", hu=60.0, pd=0.86, t1_ms=1400.0, t2_ms=160.0),
)


@dataclass(frozen=True)
class SpinEcho:
    """A spin-echo MR weighting.

    Attributes:
        name: human name of the weighting, e.g. ``"T1-weighted MR"``.
        tr_ms: repetition time in ms.
        te_ms: echo time in ms.
    """

    name: str
    tr_ms: float
    te_ms: float


#: The weightings the phantom can render, by dataset argument value.
SEQUENCES: dict[str, SpinEcho] = {
    "t1": SpinEcho("T1-weighted MR", tr_ms=500.0, te_ms=15.0),
    "t2": SpinEcho("T2-weighted MR", tr_ms=4000.0, te_ms=100.0),
}

#: MR is delivered in arbitrary units scaled so the brightest nominal tissue sits here. With a
#: ±15 % bias field and Rician noise on top, tissues stay within about [0, 0.9], so the declared
#: window [0, 1] holds nearly every value.
MR_PEAK = 0.75


def spin_echo_signal(
    pd: NDArray[np.floating],
    t1_ms: NDArray[np.floating],
    t2_ms: NDArray[np.floating],
    seq: SpinEcho,
) -> F64:
    """Spin-echo signal ``S = PD·(1 − exp(−TR/T1))·exp(−TE/T2)``, element-wise.

    Args:
        pd: proton densities (relative to water).
        t1_ms: T1 times in ms (positive).
        t2_ms: T2 times in ms (positive).
        seq: the weighting (TR and TE).

    Returns:
        The noiseless signal in the same relative units as ``pd``.
    """
    pd64 = np.asarray(pd, dtype=np.float64)
    t1 = np.asarray(t1_ms, dtype=np.float64)
    t2 = np.asarray(t2_ms, dtype=np.float64)
    return pd64 * (1.0 - np.exp(-seq.tr_ms / t1)) * np.exp(-seq.te_ms / t2)


def mr_scale(seq: SpinEcho) -> float:
    """Factor mapping spin-echo signal to delivered a.u. for one weighting.

    Computed from the *nominal* tissue table (not a subject's jittered one) so that the scale is
    the same for every subject: subject-to-subject contrast differences stay visible.
    """
    table = _tissue_arrays(TISSUES)
    return MR_PEAK / float(spin_echo_signal(table["pd"], table["t1"], table["t2"], seq).max())


def _tissue_arrays(tissues: Sequence[Tissue]) -> dict[str, F64]:
    """Columns of a tissue table as arrays indexed by label."""
    return {
        "hu": np.array([t.hu for t in tissues]),
        "pd": np.array([t.pd for t in tissues]),
        "t1": np.array([t.t1_ms for t in tissues]),
        "t2": np.array([t.t2_ms for t in tissues]),
    }


# --------------------------------------------------------------------------------------------
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
#: A fixed reference grid used to normalise random smooth fields, so their amplitude does not
#: depend on the image size.
_REFERENCE_GRID = np.linspace(-1.0, 1.0, 33)


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


# --------------------------------------------------------------------------------------------
# Slice levels and level-dependent shape
# --------------------------------------------------------------------------------------------


def slice_levels(n_slices: int, offset: float = 0.0) -> F64:
    """Levels of a subject's slices, spread evenly over :data:`LEVEL_RANGE`.

    Args:
        n_slices: number of slices (at least 1); a single slice is taken at a mid level, where
            the ventricles are.
        offset: the subject's level offset.

    Returns:
        Array of ``n_slices`` levels, inferior to superior.

    Raises:
        ValueError: ``n_slices`` < 1.
    """
    if n_slices < 1:
        raise ValueError(f"n_slices must be at least 1, got {n_slices}")
    if n_slices == 1:
        return np.array([0.1 + offset])
    return np.linspace(*LEVEL_RANGE, n_slices) + offset


def head_scale(level: float) -> float:
    """Cross-section scale of the ellipsoidal head at ``level`` (1 at its widest)."""
    t = (level - HEAD_CENTRE_LEVEL) / HEAD_HALF_HEIGHT
    return math.sqrt(max(1.0 - t * t, 0.05))


def _bump(level: float, centre: float, half_width: float) -> float:
    """A parabolic bump: 1 at ``centre``, 0 beyond ``half_width``; sizes structures by level."""
    t = (level - centre) / half_width
    return max(1.0 - t * t, 0.0)


# --------------------------------------------------------------------------------------------
# The label function
# --------------------------------------------------------------------------------------------


def label_slice(x: F32, y: F32, subject: SubjectAnatomy, level: float) -> NDArray[np.uint8]:
    """Evaluate the subject's anatomy at the given coordinates of one slice.

    Args:
        x: FOV x coordinates (any shape), already warped.
        y: FOV y coordinates, same shape.
        subject: the subject.
        level: the slice level.

    Returns:
        :class:`Label` values (uint8), same shape as ``x``.
    """
    xh, yh = _to_head_frame(x, y, subject)
    labels = np.zeros(x.shape, dtype=np.uint8)
    brain_a, brain_b = _label_shells(labels, xh, yh, subject, level)
    u = xh / np.float32(brain_a)
    v = yh / np.float32(brain_b)
    # Paint each group only inside the box of pixels it can reach (label arrays are views, so
    # painting a crop paints the slice); this cuts the run time several fold at large sizes.
    brain = _box(u, v, 1.0)
    _label_brain(labels[brain], u[brain], v[brain], subject, level, 0.5 * (brain_a + brain_b))
    deep = _box(u, v, DEEP_REACH)
    _label_deep_structures(labels[deep], u[deep], v[deep], subject, level)
    _label_lesion(labels[deep], u[deep], v[deep], subject, level)
    return labels


def _box(u: F32, v: F32, reach: float) -> tuple[slice, slice]:
    """Smallest row/column window holding every pixel with ``|u|, |v| < reach``."""
    inside = (np.abs(u) < reach) & (np.abs(v) < reach)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _to_head_frame(x: F32, y: F32, subject: SubjectAnatomy) -> tuple[F32, F32]:
    """Translate and rotate FOV coordinates into the head's own frame."""
    c, s = np.float32(math.cos(subject.rotation)), np.float32(math.sin(subject.rotation))
    dx = x - np.float32(subject.centre[0])
    dy = y - np.float32(subject.centre[1])
    return c * dx + s * dy, -s * dx + c * dy


def _label_shells(
    labels: NDArray[np.uint8], xh: F32, yh: F32, subject: SubjectAnatomy, level: float
) -> tuple[float, float]:
    """Paint the nested head ellipses (scalp → CSF) into ``labels``.

    Returns:
        The half axes of the inner-table surface, which bound the brain.
    """
    scale = head_scale(level)
    a, b = subject.head_a * scale, subject.head_b * scale
    # A plane cuts a curved shell obliquely away from the equator, so the shell looks thicker by
    # about 1/scale there (capped, since at the vertex it would diverge).
    thickening = subject.shell_scale / max(scale, 0.7)
    x2, y2 = xh * xh, yh * yh
    depth = 0.0
    for label, thickness in SHELL_THICKNESS:
        inside = x2 / np.float32((a - depth) ** 2) + y2 / np.float32((b - depth) ** 2) < 1.0
        labels[inside] = label
        depth += thickness * thickening
    return a - depth, b - depth


def _label_brain(
    labels: NDArray[np.uint8],
    u: F32,
    v: F32,
    subject: SubjectAnatomy,
    level: float,
    brain_radius: float,
) -> None:
    """Paint gray matter, white matter and the interhemispheric fissure.

    ``u``, ``v`` are brain-normalised: the inner skull surface is the unit circle, whose mean
    radius in FOV units is ``brain_radius``.
    """
    rho = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)
    at_theta = AngleLookup.at(theta)
    wobble = at_theta(subject.gyri.tabulate(level))
    # Sulci are not radial: bend each cleft by turning the angle it is looked up at with depth.
    at_sulci = AngleLookup.at(theta + 0.6 * at_theta(subject.bend.tabulate(level)) * (1.0 - rho))
    # The cortex surface sits a CSF gap inside the skull, cut by sulcal clefts; the white matter
    # recedes under each sulcus over a wider angle, leaving white-matter fingers in the gyri and
    # a cortical ribbon of roughly constant thickness around every cleft.
    gap = subject.csf_gap / brain_radius * (1.0 + 0.5 * wobble)
    gray = rho < 1.0 - gap - at_sulci(subject.sulci.tabulate(level))
    labels[gray] = Label.GRAY
    white_radius = subject.white_fraction * (1.0 + 0.08 * wobble)
    white = rho < white_radius - 0.7 * at_sulci(subject.sulci.tabulate(level, widen=2.0))
    labels[white] = Label.WHITE
    # The fissure between the hemispheres: a thin CSF sheet on the midline, cut from the cortex
    # inwards but not through the centre (the corpus callosum joins the hemispheres there).
    fissure = gray & (np.abs(u) < 0.02) & (rho > 0.45 - 0.3 * max(level - 0.25, 0.0))
    labels[fissure] = Label.CSF


def _label_deep_structures(
    labels: NDArray[np.uint8], u: F32, v: F32, subject: SubjectAnatomy, level: float
) -> None:
    """Paint deep gray nuclei, then ventricles on top, at the levels where they exist."""
    nuclei = _bump(level, -0.02, 0.3)
    if nuclei > 0.0:
        k = math.sqrt(nuclei)
        for side in (-1.0, 1.0):
            # thalamus, caudate head, lentiform nucleus (u, v, half axes, tilt)
            for cu, cv, au, av, tilt in (
                (0.12, 0.12, 0.10, 0.15, 0.0),
                (0.17, -0.22, 0.06, 0.09, 0.3),
                (0.31, -0.02, 0.07, 0.17, 0.25),
            ):
                mask = _ellipse(u, v, side * cu, cv, au * k, av * k, side * tilt)
                labels[mask] = Label.NUCLEI
        third = (np.abs(u) < 0.02 * k + 0.005) & (np.abs(v - 0.1) < 0.13 * k)
        labels[third] = Label.CSF
    ventricles = _bump(level, 0.12, 0.32)
    if ventricles > 0.0:
        k = math.sqrt(ventricles)
        for side, size in zip((-1.0, 1.0), subject.ventricle_scale, strict=True):
            # Frontal horns lie close to the midline and the bodies diverge posteriorly, hence
            # the tilt (posterior = +v) away from the midline.
            mask = _ellipse(u, v, side * 0.11, -0.02, 0.08 * k * size, 0.3 * k, -side * 0.3)
            labels[mask] = Label.CSF


def _label_lesion(
    labels: NDArray[np.uint8], u: F32, v: F32, subject: SubjectAnatomy, level: float
) -> None:
    """Paint the section of the subject's lesion (a lumpy sphere) through this slice."""
    lesion = subject.lesion
    if lesion is None:
        return
    # Level distance → brain-normalised units (the brain's half size is about 0.6 FOV units).
    dz = (level - lesion.level) * LEVEL_TO_FOV / 0.6
    if abs(dz) >= lesion.radius:
        return
    r = math.sqrt(lesion.radius**2 - dz * dz)
    du, dv = u - np.float32(lesion.u), v - np.float32(lesion.v)
    phi = np.arctan2(dv, du)
    outline = r * (
        1.0
        + lesion.lobes[0] * np.sin(2 * phi + lesion.phases[0])
        + lesion.lobes[1] * np.sin(3 * phi + lesion.phases[1])
    )
    # Only brain parenchyma becomes lesion: CSF spaces (ventricles, fissure) keep their label.
    inside = (du * du + dv * dv < outline * outline) & (labels >= Label.GRAY)
    labels[inside] = Label.LESION


def _ellipse(
    u: F32, v: F32, cu: float, cv: float, au: float, av: float, tilt: float
) -> NDArray[np.bool_]:
    """Inside-test of a rotated ellipse with centre (cu, cv), half axes (au, av)."""
    c, s = math.cos(tilt), math.sin(tilt)
    du, dv = u - np.float32(cu), v - np.float32(cv)
    p = (c * du + s * dv) / np.float32(au)
    q = (-s * du + c * dv) / np.float32(av)
    return p * p + q * q < 1.0


# --------------------------------------------------------------------------------------------
# Smooth random fields (warp and bias), image operations
# --------------------------------------------------------------------------------------------


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


def random_smooth_field(rng: np.random.Generator, n_freq: int) -> F64:
    """Draw coefficients of a separable low-frequency field, normalised to peak 1.

    Args:
        rng: generator to draw from (advanced by ``(2·n_freq + 1)²`` normals).
        n_freq: highest frequency index per axis.

    Returns:
        Coefficient matrix ``C`` (rows: y basis, columns: x basis); evaluate it with
        :func:`evaluate_field`. The peak |value| over a fixed reference grid is 1, independent
        of the resolution it is later evaluated at.
    """
    n = 2 * n_freq + 1
    order = np.array([0] + [k for k in range(1, n_freq + 1) for _ in (0, 1)], dtype=np.float64)
    # Power falls with frequency so the field is dominated by its smoothest modes.
    decay = 1.0 / (1.0 + np.add.outer(order, order))
    coeffs = rng.standard_normal((n, n)) * decay
    coeffs[0, 0] = 0.0  # zero mean: the warp should not shift the whole head
    peak = np.abs(evaluate_field(coeffs, _REFERENCE_GRID)).max()
    return coeffs / max(peak, 1e-12)


def evaluate_field(coeffs: F64, coords: F64) -> F64:
    """Evaluate a field from :func:`random_smooth_field` on the grid ``coords × coords``.

    Args:
        coeffs: coefficient matrix of shape (2K+1, 2K+1).
        coords: 1-D sample positions in FOV units, used for both axes.

    Returns:
        Array (len(coords), len(coords)) indexed [y, x]. Separability makes this a handful of
        outer products instead of a per-pixel sum of trigonometric terms.
    """
    n_freq = (coeffs.shape[0] - 1) // 2
    basis = _fourier_basis(coords, n_freq)
    left = (basis[:, :, None] * coeffs[None, :, :]).sum(axis=1)
    # Deliberately not ``left @ basis.T``: on a busy machine a multi-threaded BLAS spin-waits
    # for cores it does not get, which made generation several times slower in measurements.
    out = np.zeros((coords.size, coords.size))
    for k in range(basis.shape[1]):
        out += np.multiply.outer(left[:, k], basis[:, k])
    return out


def pixel_centres(n: int) -> F64:
    """Centres of ``n`` equal pixels spanning the FOV [−1, 1]."""
    return (np.arange(n, dtype=np.float64) * 2.0 + 1.0) / n - 1.0


def average_pool2(image: NDArray[np.floating]) -> F32:
    """Mean over non-overlapping 2×2 blocks (partial-volume averaging of the supersampled grid).

    Raises:
        ValueError: a side length is odd.
    """
    h, w = image.shape
    if h % 2 or w % 2:
        raise ValueError(f"average_pool2 needs even sides, got {image.shape}")
    x = image.astype(np.float32, copy=False)
    return (x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2]) * np.float32(0.25)


def gaussian_blur(image: F32, sigma: float) -> F32:
    """Separable Gaussian blur with edge replication (kernel radius ``ceil(3σ)``).

    Args:
        image: 2-D array.
        sigma: standard deviation in pixels (> 0).

    Returns:
        The blurred image, float32, same shape.
    """
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    out = image.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
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


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

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
    """One rendered slice.

    Attributes:
        mr: MR magnitude image in delivered a.u., (H, W) float32.
        ct: CT image in HU, (H, W) float32.
        mask: head mask, (H, W) bool.
    """

    mr: F32
    ct: F32
    mask: NDArray[np.bool_]


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

    table = _tissue_arrays(subject.tissues)
    mr_values = spin_echo_signal(table["pd"], table["t1"], table["t2"], seq) * mr_scale(seq)
    # Average tissue *properties* over each output pixel: a boundary pixel holds a mixture.
    ct = average_pool2(table["hu"].astype(np.float32)[labels])
    mr = average_pool2(mr_values.astype(np.float32)[labels])
    head_fraction = average_pool2((labels != Label.AIR).astype(np.float32))

    ct = gaussian_blur(ct, CT_BLUR_SIGMA)
    ct = (ct + noise_rng.standard_normal(ct.shape) * subject.ct_noise_hu).astype(np.float32)

    coarse = pixel_centres(size)
    bias = 1.0 + draws.bias_amplitude * evaluate_field(draws.bias, coarse)
    mr = rician((mr * bias).astype(np.float32), subject.mr_noise, noise_rng)
    return SliceImages(mr=mr, ct=ct, mask=head_fraction >= 0.5)


@dataclass(frozen=True)
class SubjectSlices:
    """All slices of one subject.

    Attributes:
        mr: (S, H, W) float32, a.u.
        ct: (S, H, W) float32, HU.
        mask: (S, H, W) bool.
        levels: (S,) slice levels.
        has_lesion: whether the subject has a lesion (it need not cross every slice).
    """

    mr: F32
    ct: F32
    mask: NDArray[np.bool_]
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
        levels=levels,
        has_lesion=subject.lesion is not None,
    )
