"""Payloads of cut slices → datasets: whole patients assigned to splits, then served.

:func:`paired_dataset` serves two co-registered domains (items are pairs, their masks the one
body mask); :func:`single_dataset` serves one domain as both A and B, B shifted by whole
patients so an item never pairs a slice with itself (the unconditional track and FID/KID);
:func:`unpaired_dataset` serves two payloads of different patients, each split on its own.
Every slice keeps its volume and slice index, so every volume dataset is evaluated per patient
wherever a comparison is pixel-paired (paired translation, and the round trips of any model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from medganbench.core.dataset import SPLITS, DatasetInfo, DomainInfo
from medganbench.data.problems import from_records
from medganbench.data.serve import (
    DomainSlices,
    NativeReader,
    NativeSlicesDataset,
    SlicesDataset,
    SliceSplit,
)
from medganbench.data.splits import assign_splits
from medganbench.errors import DataError

#: The empty-dataset message.
NO_SLICES = "No usable slices were found (every slice was empty or every file was skipped)."


def domain_slices(payload: Mapping[str, Any], key: str, members: Sequence[int]) -> DomainSlices:
    """Domain ``key``'s slices at payload positions ``members``, with volume indices into the
    sorted volume keys of those slices."""
    pick = torch.as_tensor(list(members), dtype=torch.int64)
    volumes = [str(payload["volumes"][i]) for i in members]
    ids = sorted(set(volumes))
    position = {v: k for k, v in enumerate(ids)}
    labels = payload.get("labels")
    return DomainSlices(
        images=payload[key][pick],
        mask=payload["mask"][pick],
        labels=labels[pick] if labels is not None else None,
        volume=torch.as_tensor([position[v] for v in volumes], dtype=torch.int64),
        slice=torch.as_tensor([int(payload["slices"][i]) for i in members], dtype=torch.int64),
        ids=tuple(ids),
    )


def _members(payload: Mapping[str, Any], record: Mapping[str, str], split: str) -> list[int]:
    return [i for i, g in enumerate(payload["groups"]) if record[str(g)] == split]


def _record(
    payload: Mapping[str, Any], ratios: tuple[float, float, float], seed: int
) -> dict[str, str]:
    groups = [str(g) for g in payload["groups"]]
    if not groups:
        raise DataError(NO_SLICES)
    return assign_splits(groups, ratios, seed)


def _info(
    domains: tuple[DomainInfo, DomainInfo],
    paired: bool,
    size: int,
    labels: Sequence[str],
    payloads: Sequence[Mapping[str, Any]],
) -> DatasetInfo:
    served = tuple(labels) if all("labels" in p for p in payloads) else ()
    return DatasetInfo(domains[0], domains[1], paired, SPLITS, size, served)


def paired_dataset(
    payload: Mapping[str, Any],
    domains: tuple[DomainInfo, DomainInfo],
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
    *,
    labels: Sequence[str] = (),
    native: NativeReader | None = None,
    from_cache: bool = False,
) -> SlicesDataset:
    """Split a paired payload (``a`` and ``b``) by patient and serve it.

    Raises:
        DataError: no slice, or fewer patients than splits.
    """
    record = _record(payload, ratios, seed)
    splits = {}
    for name in SPLITS:
        members = _members(payload, record, name)
        a = domain_slices(payload, "a", members)
        b = domain_slices(payload, "b", members)
        splits[name] = SliceSplit(a, b, paired=True)
    info = _info(domains, True, size, labels, [payload])
    problems = from_records(payload.get("problems", []))
    if native is not None:
        return NativeSlicesDataset(
            info, splits, fingerprint, record, problems, from_cache, native=native
        )
    return SlicesDataset(info, splits, fingerprint, record, problems, from_cache)


def offset_by_group(groups: Sequence[str]) -> list[int]:
    """A permutation that moves every item by the size of the largest group.

    Items are assumed grouped contiguously (as cut). With that shift, item i's partner comes
    from another group whenever no group holds more than half of the items.
    """
    n = len(groups)
    if n == 0:
        return []
    largest = max(groups.count(g) for g in set(groups))
    return [(i + largest) % n for i in range(n)]


def single_dataset(
    payload: Mapping[str, Any],
    domain: DomainInfo,
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
    *,
    key: str = "a",
    labels: Sequence[str] = (),
    from_cache: bool = False,
) -> SlicesDataset:
    """Serve one domain (the payload's ``key``) as both A and B, unpaired, B offset by
    :func:`offset_by_group`.

    Raises:
        DataError: no slice, or fewer patients than splits.
    """
    record = _record(payload, ratios, seed)
    splits = {}
    for name in SPLITS:
        members = _members(payload, record, name)
        a = domain_slices(payload, key, members)
        order = offset_by_group([str(payload["groups"][i]) for i in members])
        b = a.take(torch.as_tensor(order, dtype=torch.int64))
        splits[name] = SliceSplit(a, b, paired=False)
    info = _info((domain, domain), False, size, labels, [payload])
    problems = from_records(payload.get("problems", []))
    return SlicesDataset(info, splits, fingerprint, record, problems, from_cache)


def unpaired_dataset(
    payloads: tuple[Mapping[str, Any], Mapping[str, Any]],
    domains: tuple[DomainInfo, DomainInfo],
    ratios: tuple[float, float, float],
    seed: int,
    size: int,
    fingerprint: str,
    *,
    labels: Sequence[str] = (),
    from_cache: bool = False,
) -> SlicesDataset:
    """Serve a payload of A patients and one of B patients as an unpaired dataset; each
    domain's patients are split with ``seed`` on their own.

    Raises:
        DataError: a domain has no slice, or fewer patients than splits.
    """
    records = []
    for payload, side in zip(payloads, "AB", strict=True):
        if not list(payload["groups"]):
            raise DataError(f"No usable slices were found in the {side} tree.")
        records.append(_record(payload, ratios, seed))
    splits = {}
    for name in SPLITS:
        a, b = (
            domain_slices(payload, key, _members(payload, record, name))
            for payload, record, key in zip(payloads, records, "ab", strict=True)
        )
        splits[name] = SliceSplit(a, b, paired=False)
    record = {f"{side}/{g}": s for side, r in zip("AB", records, strict=True) for g, s in r.items()}
    info = _info(domains, False, size, labels, payloads)
    problems = [p for payload in payloads for p in from_records(payload.get("problems", []))]
    return SlicesDataset(info, splits, fingerprint, record, problems, from_cache)


__all__ = [
    "NO_SLICES",
    "domain_slices",
    "offset_by_group",
    "paired_dataset",
    "single_dataset",
    "unpaired_dataset",
]
