"""What the generated phantom datasets share, slices (``phantom-brain``) and volumes
(``phantom-brain-3d``) alike: the domains, the random stream of each subject, the split of
subjects into the A and B sides, the fingerprint, and the dataset that generates its splits on
first use and caches them. Not a plugin module: it registers nothing.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from medganbench.core.dataset import Dataset, DatasetInfo, DomainInfo
from medganbench.data import SliceSplit, cached
from medganbench.data.cache import cache_path
from medganbench.errors import UsageError
from medganbench_plugins.datasets.phantom_tissues import SEQUENCES

__all__ = [
    "CT_DOMAIN",
    "PhantomDataset",
    "mr_domain",
    "settings_hash",
    "sides",
    "subject_entropy",
]

#: Domain B: CT in Hounsfield units, the window every CT dataset of the benchmark uses.
CT_DOMAIN = DomainInfo(name="CT", modality="CT", units="HU", window=(-1024.0, 3000.0), channels=1)

#: Each split has its own random stream, so split sizes do not change each other's subjects.
_SPLIT_STREAM: dict[str, int] = {"train": 0, "val": 1, "test": 2}

T = TypeVar("T")


def mr_domain(weighting: str) -> DomainInfo:
    """Domain A: MR of ``weighting`` (``"t1"``/``"t2"``), arbitrary units in [0, 1]."""
    return DomainInfo(
        name=SEQUENCES[weighting].name, modality="MR", units="a.u.", window=(0.0, 1.0), channels=1
    )


def subject_entropy(seed: int, split: str, index: int) -> tuple[int, int, int]:
    """The entropy of subject ``index`` of ``split``: the same head in 2-D and 3-D, whatever
    the other splits' sizes (``SeedSequence`` needs non-negative entropy, hence the modulus)."""
    return (seed % 2**64, _SPLIT_STREAM[split], index)


def sides(pairs: Sequence[T], paired: bool) -> tuple[Sequence[T], Sequence[T]]:
    """The subjects of the A and B sides: all of them on both when paired, else disjoint
    halves (A the first, B the second, so no item pairs a subject with itself; with an odd
    count the middle subject is left out, to keep A and B the same length)."""
    if paired:
        return pairs, pairs
    half = len(pairs) // 2
    return pairs[:half], pairs[len(pairs) - half :]


def settings_hash(name: str, version: str, args: Mapping[str, Any], image_size: int) -> str:
    """16 hex digits of sha256 over name, version, arguments and image size: the fingerprint
    and the cache key of a generated dataset."""
    key = {"dataset": name, "version": version, "args": dict(args), "image_size": image_size}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class PhantomDataset(Dataset):
    """A generated dataset whose splits are made on first use: loaded from the cache if it holds
    them, else generated (:meth:`_generate`) and cached; :meth:`_serve` turns one cached split
    into what is served.

    Attributes:
        info: the declared facts.
        args: the resolved arguments (every declared key, typed).
        cache_path: the cache file of these arguments and image size.
        generated: ``None`` until the data are first needed; then ``True`` if this instance
            generated them, ``False`` if it loaded them from the cache.
    """

    name: str
    args: dict[str, Any]

    def declare(self, info: DatasetInfo, version: str, size: int, cache_dir: Path) -> None:
        """Set :attr:`info`, the fingerprint and the cache of these arguments and ``size``."""
        self.info = info
        self._size = size
        self._fingerprint = settings_hash(self.name, version, self.args, size)
        self._cache_dir = Path(cache_dir)
        self._cache_key = {"dataset": self.name, "fingerprint": self._fingerprint, "size": size}
        self.cache_path = cache_path(self._cache_dir, self._cache_key)
        self.generated: bool | None = None
        self._splits: dict[str, SliceSplit] | None = None

    def split(self, name: str) -> SliceSplit:
        """Return split ``name`` (generating or loading all splits on first use).

        Raises:
            UsageError: ``name`` is not one of ``info.splits``.
        """
        if name not in self.info.splits:
            raise UsageError(
                f"{self.name} has no split {name!r}.",
                hint=f"Known splits: {', '.join(self.info.splits)}",
            )
        return self._data()[name]

    def volume_ids(self, split: str, domain: str = "b") -> list[str]:
        """The subjects of ``split``'s domain ``domain``: the volumes of per-patient
        evaluation."""
        return self.split(split).volume_ids(domain)

    def fingerprint(self) -> str:
        """16 hex digits of sha256 over dataset name, version, arguments and image size."""
        return self._fingerprint

    def _data(self) -> dict[str, SliceSplit]:
        if self._splits is None:
            payload, hit = cached(self._cache_dir, self._cache_key, self._generate)
            self.generated = not hit
            self._splits = {name: self._serve(payload[name]) for name in self.info.splits}
        return self._splits

    @abstractmethod
    def _generate(self) -> dict[str, Any]:
        """Every split's cached form, by split name."""

    @abstractmethod
    def _serve(self, payload: Mapping[str, Any]) -> SliceSplit:
        """One split as served, from its cached form."""
