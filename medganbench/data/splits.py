"""Splits by patient: whole groups (patients, cases, volumes) go to train, val or test.

No patient is ever in two splits. :func:`assign_splits` is seeded and depends only on the set of
group ids, so the same files give the same splits on every machine; the assignment is kept on the
dataset (``split_record``) so a caller can prove there is no leak.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from medganbench.core.params import Param
from medganbench.errors import DataError, UsageError

#: The split names, in the order of :func:`assign_splits`' ratios.
SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")


def assign_splits(
    groups: Iterable[str], ratios: tuple[float, float, float], seed: int
) -> dict[str, str]:
    """Assign whole groups to train/val/test.

    The unique group ids are sorted, shuffled with ``seed`` and cut by ``ratios``; every split
    with a positive ratio gets at least one group when there are enough groups.

    Returns:
        group id → split name.

    Raises:
        DataError: fewer groups than splits with a positive ratio.
    """
    unique = sorted(set(groups))
    wanted = [name for name, r in zip(SPLIT_NAMES, ratios, strict=True) if r > 0]
    if len(unique) < len(wanted):
        raise DataError(
            f"Only {len(unique)} patient(s)/volume(s) found, but {len(wanted)} splits need one each."
        )
    random.Random(seed).shuffle(unique)
    total = sum(ratios)
    counts = [round(len(unique) * r / total) for r in ratios]
    for i, r in enumerate(ratios):  # every wanted split gets at least one group
        if r > 0 and counts[i] == 0:
            counts[i] = 1
    counts[0] = len(unique) - counts[1] - counts[2]  # train takes the rounding remainder
    out: dict[str, str] = {}
    start = 0
    for name, count in zip(SPLIT_NAMES, counts, strict=True):
        for group in unique[start : start + count]:
            out[group] = name
        start += count
    return out


def split_ratios(val: float, test: float, owner: str) -> tuple[float, float, float]:
    """(train, val, test) fractions.

    Raises:
        UsageError: ``val + test`` leaves nothing for training.
    """
    if val + test >= 1.0:
        raise UsageError(f"{owner}: val_fraction + test_fraction must be below 1.")
    return 1.0 - val - test, val, test


def split_params(unit: str, val: float = 0.15, test: float = 0.15) -> tuple[Param, ...]:
    """The split arguments of a dataset split by ``unit`` (patients, cases, volumes, files).

    Declared once so every dataset splits the same way (seeded fractions of the groups) and
    treats bad input the same way (strict).
    """
    return (
        Param("val_fraction", val, f"fraction of {unit} in the validation split", minimum=0.0),
        Param("test_fraction", test, f"fraction of {unit} in the test split", minimum=0.0),
        Param("seed", 0, f"seed of the {unit}-to-split assignment"),
        Param("strict", True, "stop at the first unusable file (false: skip and count it)"),
    )


__all__ = ["SPLIT_NAMES", "assign_splits", "split_params", "split_ratios"]
