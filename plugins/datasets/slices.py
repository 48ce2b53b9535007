"""Shared machinery of the file-backed datasets: slices held in memory, splits by patient,
an on-disk slice cache, a content fingerprint of the files and strict/lenient handling of bad
input.

A file-backed dataset plugin (folders of images, DICOM series, NIfTI volumes) reads its files
into per-domain lists of 2-D slices in the domain's physical units, each tagged with the
*group* it belongs to (a patient or a volume). :func:`assign_splits` assigns whole groups to
splits, so no patient is ever in two splits. :class:`SliceDataset` then serves the splits through
the :class:`~medganbench.core.dataset.Dataset` contract, and :func:`cached` stores the decoded,
resized slices on disk keyed by everything that shapes them, so a second run starts in seconds.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import xxhash
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import Dataset, DatasetInfo, Sample
from medganbench.core.params import Param
from medganbench.errors import DataError, UsageError
from medganbench.fileio import atomic_write

#: Layout version of the cache files written by :func:`cached` (a mismatch means "rebuild").
CACHE_FORMAT = 1


def body_mask(
    images: torch.Tensor, window: tuple[float, float], fraction: float = 0.05
) -> torch.Tensor:
    """Pixels brighter than ``fraction`` of the window above its floor (air/background is dark).

    Args:
        images: (N, C, H, W) in physical units.
        window: the domain's (lo, hi).

    Returns:
        bool (N, 1, H, W); true where any channel is above the threshold.
    """
    lo, hi = window
    return (images > lo + fraction * (hi - lo)).any(dim=1, keepdim=True)


class SliceSplit(TorchDataset[Sample]):
    """One split: stacked A and B slices with their masks.

    Paired: item ``i`` is ``(a[i], b[i])``. Unpaired: the domains may have different counts;
    there are ``max(n_a, n_b)`` items and item ``i`` is ``(a[i mod n_a], b[i mod n_b])``, so every
    image of both domains is seen once per pass over the split.
    """

    def __init__(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        mask_a: torch.Tensor,
        mask_b: torch.Tensor,
        paired: bool,
    ) -> None:
        if paired and a.shape[0] != b.shape[0]:
            raise ValueError("a paired split needs as many A as B slices")
        self.a, self.b, self.mask_a, self.mask_b, self.paired = a, b, mask_a, mask_b, paired

    def __len__(self) -> int:
        if self.a.shape[0] == 0 or self.b.shape[0] == 0:
            return 0
        return int(max(self.a.shape[0], self.b.shape[0]))

    def __getitem__(self, index: int) -> Sample:
        ia, ib = index % self.a.shape[0], index % self.b.shape[0]
        return {
            "a": self.a[ia].clone(),
            "b": self.b[ib].clone(),
            "mask_a": self.mask_a[ia].clone(),
            "mask_b": self.mask_b[ib].clone(),
        }


class SliceDataset(Dataset):
    """A :class:`~medganbench.core.dataset.Dataset` over prepared :class:`SliceSplit` objects.

    Args:
        info: the declared facts.
        splits: split name → split.
        fingerprint: hash of the source files and preprocessing (see :func:`files_fingerprint`).
        split_record: which group went to which split (written next to the cache, and usable
            by callers to prove there is no leak).
    """

    def __init__(
        self,
        info: DatasetInfo,
        splits: Mapping[str, SliceSplit],
        fingerprint: str,
        split_record: Mapping[str, str] | None = None,
    ) -> None:
        self.info = info
        self._splits = dict(splits)
        self._fingerprint = fingerprint
        self.split_record: dict[str, str] = dict(split_record or {})

    def split(self, name: str) -> SliceSplit:
        if name not in self._splits:
            raise UsageError(f"Unknown split {name!r}.", hint=f"Splits: {', '.join(self._splits)}")
        return self._splits[name]

    def fingerprint(self) -> str:
        return self._fingerprint


def assign_splits(
    groups: Iterable[str], ratios: tuple[float, float, float], seed: int
) -> dict[str, str]:
    """Assign whole groups (patients, volumes) to train/val/test.

    The unique group ids are sorted, shuffled with ``seed`` and cut by ``ratios``; every split
    with a positive ratio gets at least one group when there are enough groups.

    Returns:
        group id → split name.

    Raises:
        DataError: fewer groups than splits with a positive ratio.
    """
    unique = sorted(set(groups))
    wanted = [name for name, r in zip(("train", "val", "test"), ratios, strict=True) if r > 0]
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
    for name, count in zip(("train", "val", "test"), counts, strict=True):
        for group in unique[start : start + count]:
            out[group] = name
        start += count
    return out


def content_hash(path: Path) -> str:
    """32 hex digits of the xxh3-128 hash of a file's bytes, read in 1 MiB chunks.

    xxh3 runs at several GiB/s (docs/datasets.md has the figure measured here), so hashing every
    byte of a dataset costs seconds, not minutes. It is not a cryptographic hash: it guards
    against stale numbers from edited files, not against someone forging a collision.
    """
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(
    files: Iterable[Path], root: Path, extra: Mapping[str, Any] | None = None
) -> str:
    """16 hex digits of the sha256 of the sorted (relative path, size, content hash) list plus
    ``extra``.

    Every byte of every file is read (:func:`content_hash`): a file added, removed, renamed,
    resized or edited in place — same name, same size — changes the fingerprint, and with it
    the slice cache's key and the rows' ``dataset_fingerprint``.
    """
    listing = sorted(
        (str(Path(f).relative_to(root)), Path(f).stat().st_size, content_hash(Path(f)))
        for f in files
    )
    payload = json.dumps(
        {"files": listing, "extra": dict(extra or {})}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cached(
    cache_dir: Path, key: Mapping[str, Any], build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Load the payload stored under ``key``, or build, store (atomically) and return it.

    Args:
        cache_dir: directory of the cache files.
        key: everything that shapes the payload (dataset version, fingerprint, image size,
            preprocessing arguments); hashed into the file name.
        build: produces the payload (a dict of tensors, lists and strings).
    """
    digest = hashlib.sha256(
        json.dumps({"format": CACHE_FORMAT, **dict(key)}, sort_keys=True, default=str).encode()
    ).hexdigest()[:24]
    path = Path(cache_dir) / f"slices-{digest}.pt"
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
        except Exception:  # a damaged cache file is rebuilt, never trusted
            pass
    payload = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(payload, f))
    return payload


@dataclass
class InputProblems:
    """Collects bad input files under a strict or lenient policy.

    Strict (the default): the first problem raises one :class:`DataError` naming the file.
    Lenient: problems are counted and the file skipped; :meth:`summary` says how many and which,
    so a dataset never shrinks silently.
    """

    strict: bool = True
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, problem: str) -> None:
        """Record that ``where`` (a path relative to the root) is unusable because ``problem``.

        Raises:
            DataError: in strict mode.
        """
        if self.strict:
            raise DataError(
                f"{where}: {problem}",
                hint="Fix or remove the file, or pass --dataset-arg strict=false to skip bad files (they are counted).",
            )
        self.problems.append((where, problem))

    def summary(self, limit: int = 5) -> str:
        """One line: how many files were skipped, naming the first few."""
        if not self.problems:
            return "no bad files"
        shown = "; ".join(f"{w}: {p}" for w, p in self.problems[:limit])
        more = f" (+{len(self.problems) - limit} more)" if len(self.problems) > limit else ""
        return f"skipped {len(self.problems)} bad file(s): {shown}{more}"


def group_split_params(unit: str) -> tuple[Param, ...]:
    """The split arguments of a dataset split by ``unit`` (patients, cases, volumes).

    Declared once so every volume dataset splits the same way by default (70/15/15 of the
    groups, seed 0) and treats bad input the same way (strict).
    """
    return (
        Param("val_fraction", 0.15, f"fraction of {unit} in the validation split", minimum=0.0),
        Param("test_fraction", 0.15, f"fraction of {unit} in the test split", minimum=0.0),
        Param("seed", 0, f"seed of the {unit}-to-split assignment"),
        Param("strict", True, "stop at the first unusable file (false: skip and count it)"),
    )


def stack(slices: Sequence[torch.Tensor], channels: int, size: int) -> torch.Tensor:
    """Stack (C, H, W) slices to (N, C, H, W) float32; an empty list gives (0, C, H, W)."""
    if not slices:
        return torch.empty(0, channels, size, size)
    return torch.stack([s.float() for s in slices])
