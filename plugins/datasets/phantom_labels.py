"""The phantom's analytic label function: which tissue is at each point of a slice.

``label_slice`` paints, for one subject at one slice level, the nested head shells, the cortex
and white matter, the deep structures and the lesion (see
:mod:`medganbench_plugins.datasets.phantom_anatomy` for the random parameters). Pure numpy.

A 2-D slice approximates how a plane cuts the shells (each shell's section is the head's
section less a thickness grown by the obliquity of the cut, capped); a volume's planes ask for
the exact cut of nested ellipsoids (``nested=True``), so near the poles the shells close over
the brain and beyond them the plane is air, as in a 3-D head.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from medganbench_plugins.datasets.phantom_anatomy import (
    DEEP_REACH,
    HEAD_CENTRE_LEVEL,
    HEAD_HALF_HEIGHT,
    LEVEL_RANGE,
    LEVEL_TO_FOV,
    SHELL_THICKNESS,
    AngleLookup,
    SubjectAnatomy,
)
from medganbench_plugins.datasets.phantom_tissues import Label

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

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


def label_slice(
    x: F32, y: F32, subject: SubjectAnatomy, level: float, *, nested: bool = False
) -> NDArray[np.uint8]:
    """Evaluate the subject's anatomy at the given coordinates of one slice.

    Args:
        x: FOV x coordinates (2-D), already warped.
        y: FOV y coordinates, same shape.
        subject: the subject.
        level: the slice level.
        nested: cut the shells as nested ellipsoids (a plane of a volume; any level), rather
            than as the 2-D phantom's slices do (see the module docstring). The brain and
            everything inside it are the same in both.

    Returns:
        :class:`Label` values (uint8), same shape as ``x``.
    """
    xh, yh = _to_head_frame(x, y, subject)
    labels = np.zeros(x.shape, dtype=np.uint8)
    sections = _ellipsoid_sections(subject, level) if nested else _slice_sections(subject, level)
    brain_a, brain_b = _label_shells(labels, xh, yh, sections)
    if brain_a <= 0.0 or brain_b <= 0.0:
        return labels  # a plane beyond the brain (near or past a pole): shells or air only
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


#: One shell's section in a plane: its label and the half axes (x, y) of its outer boundary.
_Section = tuple[int, float, float]


def _slice_sections(subject: SubjectAnatomy, level: float) -> list[_Section]:
    """The shells' sections as the 2-D phantom cuts them: each the head's section less the
    thicknesses outside it, grown by the obliquity of the cut."""
    scale = head_scale(level)
    a, b = subject.head_a * scale, subject.head_b * scale
    # A plane cuts a curved shell obliquely away from the equator, so the shell looks thicker by
    # about 1/scale there (capped, since at the vertex it would diverge).
    thickening = subject.shell_scale / max(scale, 0.7)
    sections: list[_Section] = []
    depth = 0.0
    for label, thickness in SHELL_THICKNESS:
        sections.append((label, a - depth, b - depth))
        depth += thickness * thickening
    return sections


def _ellipsoid_sections(subject: SubjectAnatomy, level: float) -> list[_Section]:
    """The shells' sections where the plane at ``level`` cuts them as nested ellipsoids: each
    shell's outer boundary is the head ellipsoid with every half axis (the height too) shortened
    by the thicknesses outside it. Shells the plane misses are left out, from the outermost
    one it misses on."""
    z = (level - HEAD_CENTRE_LEVEL) * LEVEL_TO_FOV  # FOV units from the head's centre plane
    sections: list[_Section] = []
    depth = 0.0
    for label, thickness in SHELL_THICKNESS:
        half_height = HEAD_HALF_HEIGHT * LEVEL_TO_FOV - depth
        if half_height <= abs(z):
            break  # the plane passes above or below this ellipsoid, and all inside it
        scale = math.sqrt(1.0 - (z / half_height) ** 2)
        sections.append((label, (subject.head_a - depth) * scale, (subject.head_b - depth) * scale))
        depth += thickness * subject.shell_scale
    return sections


def _label_shells(
    labels: NDArray[np.uint8], xh: F32, yh: F32, sections: list[_Section]
) -> tuple[float, float]:
    """Paint the nested head ellipses (scalp → CSF), outermost first, into ``labels``.

    Returns:
        The half axes of the inner-table surface, which bound the brain (the innermost
        section's, the CSF having no thickness of its own); (0, 0) where the plane cuts no CSF.
    """
    x2, y2 = xh * xh, yh * yh
    for label, a, b in sections:
        inside = x2 / np.float32(a**2) + y2 / np.float32(b**2) < 1.0
        labels[inside] = label
    if len(sections) < len(SHELL_THICKNESS):
        return 0.0, 0.0
    _, a, b = sections[-1]
    return a, b


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


__all__ = ["head_scale", "label_slice", "slice_levels"]
