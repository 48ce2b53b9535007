"""The phantom's tissues and MR weightings: physical properties and the spin-echo signal.

Pure numpy, no plugin machinery; see :mod:`medganbench_plugins.datasets.phantom_render` for how
the phantom is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


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
    table = tissue_arrays(TISSUES)
    return MR_PEAK / float(spin_echo_signal(table["pd"], table["t1"], table["t2"], seq).max())


def tissue_arrays(tissues: Sequence[Tissue]) -> dict[str, F64]:
    """Columns of a tissue table as arrays indexed by label."""
    return {
        "hu": np.array([t.hu for t in tissues]),
        "pd": np.array([t.pd for t in tissues]),
        "t1": np.array([t.t1_ms for t in tissues]),
        "t2": np.array([t.t2_ms for t in tissues]),
    }


# --------------------------------------------------------------------------------------------
__all__ = [
    "MR_PEAK",
    "SEQUENCES",
    "TISSUES",
    "Label",
    "SpinEcho",
    "Tissue",
    "mr_scale",
    "spin_echo_signal",
    "tissue_arrays",
]
