"""Slices held in memory, served through the :class:`~medganbench.core.dataset.Dataset`
contract: one split type and one dataset type for every file-backed dataset.

A split holds, per domain, a :class:`DomainSlices`: the images, their body masks, label maps
when the dataset has them, and for slices cut from volumes the volume and slice index of each.
Paired: item ``i`` is ``(a[i], b[i])`` and says its volume with the shared keys ``"volume"`` and
``"slice"``. Unpaired: the domains may have different counts; there are ``max(n_a, n_b)``
items, item ``i`` is ``(a[i mod n_a], b[i mod n_b])`` (every image of both domains is seen once
per pass), and each domain says its own volume (``"volume_a"``, ``"slice_a"``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import Dataset, DatasetInfo, DomainKey, Sample
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY, NativeSlices, slice_key, volume_key
from medganbench.data.problems import summarize
from medganbench.errors import DataError, UsageError


@dataclass(frozen=True)
class DomainSlices:
    """One domain's slices of one split.

    Attributes:
        images: (n, C, S, S) float32 in the domain's units.
        mask: (n, 1, S, S) bool body masks.
        labels: (n, 1, S, S) uint8 class indices, or ``None``.
        volume: (n,) int64 index of each slice's volume in ``ids``, or ``None`` (not from
            volumes).
        slice: (n,) int64 position of each slice along its volume's slice axis, or ``None``.
        ids: the volume ids ``volume`` indexes.
    """

    images: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor | None = None
    volume: torch.Tensor | None = None
    slice: torch.Tensor | None = None
    ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def take(self, index: torch.Tensor) -> DomainSlices:
        """The slices at ``index`` (in that order); the ids stay."""
        return replace(
            self,
            images=self.images[index],
            mask=self.mask[index],
            labels=self.labels[index] if self.labels is not None else None,
            volume=self.volume[index] if self.volume is not None else None,
            slice=self.slice[index] if self.slice is not None else None,
        )


class SliceSplit(TorchDataset[Sample]):
    """One split: A and B slices, paired or not (see the module docstring)."""

    def __init__(self, a: DomainSlices, b: DomainSlices, paired: bool) -> None:
        if paired and len(a) != len(b):
            raise ValueError("a paired split needs as many A as B slices")
        self.domains: dict[str, DomainSlices] = {"a": a, "b": b}
        self.paired = paired

    @property
    def a(self) -> torch.Tensor:
        """Domain A's images, as stored."""
        return self.domains["a"].images

    @property
    def b(self) -> torch.Tensor:
        """Domain B's images, as stored."""
        return self.domains["b"].images

    @property
    def mask_a(self) -> torch.Tensor:
        """Domain A's masks, as stored."""
        return self.domains["a"].mask

    @property
    def mask_b(self) -> torch.Tensor:
        """Domain B's masks, as stored."""
        return self.domains["b"].mask

    def __len__(self) -> int:
        a, b = self.domains["a"], self.domains["b"]
        return 0 if len(a) == 0 or len(b) == 0 else max(len(a), len(b))

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item: Sample = {}
        for key, slices in self.domains.items():
            i = index % len(slices)
            # Copies, so a consumer that edits a batch in place cannot corrupt the held split.
            item[key] = slices.images[i].clone()
            item[f"mask_{key}"] = slices.mask[i].clone()
            if slices.labels is not None:
                item[f"label_{key}"] = slices.labels[i].long()
            if slices.volume is not None and slices.slice is not None:
                # Paired: one patient slice for both domains; else each domain says its own.
                where = (
                    (VOLUME_KEY, SLICE_KEY) if self.paired else (volume_key(key), slice_key(key))  # type: ignore[arg-type]
                )
                item[where[0]] = slices.volume[i].clone()
                item[where[1]] = slices.slice[i].clone()
        return item

    def volume_ids(self, key: str) -> list[str]:
        """The volume ids of domain ``key``'s slices (empty when they are not from volumes)."""
        return list(self.domains[key].ids) if self.domains[key].volume is not None else []


#: Patient key, domain key, slice indices → those slices on the native grid.
NativeReader = Callable[[str, str, Sequence[int]], NativeSlices]


class SlicesDataset(Dataset):
    """A :class:`~medganbench.core.dataset.Dataset` over prepared :class:`SliceSplit` objects.

    Attributes:
        info: the declared facts.
        split_record: which group (patient, case, file) went to which split.
        problems: (file or folder relative to the root, problem) for everything skipped or
            recorded.
        from_cache: whether the slices came from the slice cache.
    """

    def __init__(
        self,
        info: DatasetInfo,
        splits: Mapping[str, SliceSplit],
        fingerprint: str,
        split_record: Mapping[str, str] | None = None,
        problems: Sequence[tuple[str, str]] = (),
        from_cache: bool = False,
    ) -> None:
        self.info = info
        self._splits = dict(splits)
        self._fingerprint = fingerprint
        self.split_record: dict[str, str] = dict(split_record or {})
        self.problems: list[tuple[str, str]] = [(str(w), str(p)) for w, p in problems]
        self.from_cache = from_cache

    @property
    def problems_summary(self) -> str:
        """One line about :attr:`problems` (``"no input problems"`` if none)."""
        return summarize(self.problems)

    def split(self, name: str) -> SliceSplit:
        if name not in self._splits:
            raise UsageError(f"Unknown split {name!r}.", hint=f"Splits: {', '.join(self._splits)}")
        return self._splits[name]

    def fingerprint(self) -> str:
        return self._fingerprint

    def volume_ids(self, split: str, domain: DomainKey = "b") -> list[str]:
        """The volume (patient) keys of ``split``'s domain ``domain`` slices, in the order their
        items' volume indices refer to; empty when the slices are not from volumes."""
        return self.split(split).volume_ids(domain)


class NativeSlicesDataset(SlicesDataset):
    """A paired volume dataset that can give its patients' slices on the native grid again."""

    def __init__(self, *args: object, native: NativeReader, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._native = native

    def native_slices(
        self, split: str, volume: int, key: str, slices: Sequence[int]
    ) -> NativeSlices:
        """Domain ``key``'s slices ``slices`` of volume ``volume`` (an index into
        :meth:`volume_ids` of ``split``) on the native grid.

        Raises:
            DataError: the patient's files cannot be read again.
        """
        ids = self.volume_ids(split, "b")
        if not 0 <= volume < len(ids):
            raise DataError(f"No volume {volume} in the {split!r} split.")
        return self._native(ids[volume], key, slices)


__all__ = [
    "DomainSlices",
    "NativeReader",
    "NativeSlicesDataset",
    "SliceSplit",
    "SlicesDataset",
]
