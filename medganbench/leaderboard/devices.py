"""Device names on leaderboard rows: their short form for tables, and replicates across devices.

The ``device`` column names what changes a run's arithmetic, so that two rows of one run id can
say whether they should agree bit for bit. :func:`medganbench.run.device.device_name` writes it
as fields joined by :data:`SEPARATOR`:

* CPU: ``"cpu; <model name>; <kernel ISA>; <N> threads; torch <version>"``, e.g.
  ``"cpu; Intel(R) Xeon(R) Processor; AVX512; 2 threads; torch 2.14.1+cu130"``;
* CUDA: ``"cuda; <GPU name>; sm <major>.<minor>; CUDA <runtime>; cuDNN <v>; driver <v>;
  torch <version>"``.

Rows written before this format (``"cpu x86_64 (2 threads)"``, a bare GPU name) are kept as
they are: they do not name the CPU, so two of them from different machines look like one
device.

**Replicates.** The run id is a hash of the spec, so the same command run on two devices gives
two rows of one run id, and GAN training amplifies kernel rounding differences into different
values. Such rows are replicates of one run, not a conflict: ``leaderboard merge`` keeps both,
and ranking (:func:`combine_replicates`) first averages a run's replicates into one value per
metric, so a run counts once however many devices recorded it, and keeps their range to show.
Within one device, the latest row of a run wins, as for a re-run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Joins the fields of a device name.
SEPARATOR = "; "

# Marketing noise a table column does without.
_NOISE = re.compile(r"\((?:R|TM|tm|r)\)|\bCPU\b|\bProcessor\b|@\s*[\d.]+\s*GHz|\bNVIDIA\b")


def _tidy(text: str) -> str:
    return " ".join(_NOISE.sub(" ", text).split())


def short_device(device: str) -> str:
    """The device for a table column: the CPU model and ISA, or the GPU and its compute
    capability, e.g. ``"Intel Xeon AVX512 ×2"`` (2 threads) or ``"H200 sm 9.0"``.

    Names not in the :data:`SEPARATOR` format (rows recorded before it) come back unchanged.
    """
    fields = device.split(SEPARATOR)
    if len(fields) < 3 or fields[0] not in ("cpu", "cuda"):
        return device
    if fields[0] == "cuda":
        return f"{_tidy(fields[1])} {fields[2]}"
    threads = next((f.split()[0] for f in fields[3:] if f.endswith(" threads")), "")
    return f"{_tidy(fields[1])} {fields[2]}" + (f" ×{threads}" if threads else "")


@dataclass(frozen=True)
class Replicates:
    """What a run's rows from several devices say about one metric column.

    Attributes:
        n: devices with a value (not NaN).
        low: the smallest of their values.
        high: the largest.
    """

    n: int
    low: float
    high: float


#: One device's latest value of one column: ``(created_at, value, noise floor, sample size)``.
Measured = tuple[Any, float, float | None, str | None]


def combine_replicates(
    per_device: Mapping[str, Mapping[Any, Measured]], columns: Sequence[Any]
) -> tuple[
    tuple[float | None, ...],
    tuple[float | None, ...],
    tuple[str | None, ...],
    tuple[Replicates | None, ...],
]:
    """One value per column for a run recorded on one or more devices.

    Args:
        per_device: device name → column → that device's latest measurement of the column.
        columns: the group's columns, in order.

    Returns:
        Per column: the mean of the devices' values (NaN, a diverged run's score that cannot be
        ranked, left out; ``None`` if none has one; an infinite PSNR stays infinite), the mean
        noise floor of the devices that recorded one, the sample size (the devices' sizes,
        comma-separated, if they differ), and the :class:`Replicates` where two or more devices
        have a value (else ``None``).
    """
    values: list[float | None] = []
    floors: list[float | None] = []
    sizes: list[str | None] = []
    spreads: list[Replicates | None] = []
    for column in columns:
        found = [m[column] for m in per_device.values() if column in m]
        known = [m[1] for m in found if m[1] is not None and not math.isnan(m[1])]
        values.append(sum(known) / len(known) if known else None)
        known_floors = [m[2] for m in found if m[2] is not None]
        floors.append(sum(known_floors) / len(known_floors) if known_floors else None)
        sizes.append(", ".join(sorted({m[3] for m in found if m[3]})) or None)
        spreads.append(Replicates(len(known), min(known), max(known)) if len(known) > 1 else None)
    return tuple(values), tuple(floors), tuple(sizes), tuple(spreads)


__all__ = ["SEPARATOR", "Measured", "Replicates", "combine_replicates", "short_device"]
