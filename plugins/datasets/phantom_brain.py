"""The ``phantom-brain`` dataset: procedurally generated paired MR/CT brain slices.

The default dataset, embedded so the benchmark runs with nothing to download. Each subject is a
random head (see :mod:`medganbench_plugins.datasets.phantom_anatomy`); its slices are rendered
as MR (domain A, T1- or T2-weighted, arbitrary units) and CT (domain B, Hounsfield units) of the
same anatomy, exactly aligned. Splits are made by subject, never by slice, and every subject's
random stream is keyed by ``(seed, split, subject index)``: changing the number of training
subjects leaves the validation and test subjects untouched.

The data are a pure function of the arguments and the image size, so they are generated once and
cached under the context's cache directory in a file named by that hash; :meth:`fingerprint`
returns the same hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.core.dataset import (
    SPLITS,
    Dataset,
    DatasetContext,
    DatasetInfo,
    DomainInfo,
    Sample,
)
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.core.volumes import SLICE_KEY, VOLUME_KEY
from medganbench.errors import UsageError
from medganbench.fileio import atomic_write
from medganbench_plugins.datasets.phantom_anatomy import (
    SEQUENCES,
    SubjectSlices,
    render_subject,
)

log = logging.getLogger(__name__)

NAME = "phantom-brain"
#: Bump whenever the generated data could change (it is part of the cache key and fingerprint).
VERSION = "1"
#: Smallest supported image size: below this a head is a handful of pixels.
MIN_IMAGE_SIZE = 16
#: Layout version of the cache file's contents (a mismatch means "regenerate").
_CACHE_FORMAT = 1
#: Each split has its own random stream, so split sizes do not change each other's subjects.
_SPLIT_STREAM: dict[str, int] = {"train": 0, "val": 1, "test": 2}

PARAMS: tuple[Param, ...] = (
    Param("train_subjects", 16, "number of training subjects", minimum=2),
    Param("val_subjects", 4, "number of validation subjects", minimum=2),
    Param("test_subjects", 4, "number of test subjects", minimum=2),
    Param("slices_per_subject", 8, "axial slices per subject, spread over the head", minimum=1),
    Param("seed", 0, "random seed of the generator; a different seed gives different subjects"),
    Param("weighting", "t1", "MR weighting of domain A", choices=tuple(SEQUENCES)),
    Param(
        "paired",
        True,
        "A and B of an item show the same slice; false draws A and B from disjoint subject "
        "halves in every split",
    ),
    Param(
        "domain",
        "both",
        "both: MR (A) and CT (B); a or b: only that domain, delivered as A and B (unpaired), for "
        "the unconditional synthesis track",
        choices=("both", "a", "b"),
    ),
)

CT_DOMAIN = DomainInfo(name="CT", modality="CT", units="HU", window=(-1024.0, 3000.0), channels=1)


def is_paired(args: Mapping[str, Any]) -> bool:
    """Paired unless ``paired=false`` or a single ``domain`` is delivered as A and B."""
    return bool(args["paired"]) and str(args["domain"]) == "both"


def modalities(args: Mapping[str, Any]) -> tuple[str, str]:
    """Domains A and B: MR and CT, or the one ``domain`` delivered as both."""
    return {"a": ("MR", "MR"), "b": ("CT", "CT")}.get(str(args["domain"]), ("MR", "CT"))


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    """Register ``phantom-brain``."""
    return [
        DatasetSpec(
            name=NAME,
            summary="Procedural paired MR (T1/T2) → CT (HU) brain slices; no download, cached.",
            version=VERSION,
            factory="medganbench_plugins.datasets.phantom_brain:PhantomBrain",
            params=PARAMS,
            modality="MR (T1/T2) → CT",
            pairing="paired (paired=false or domain=a|b: unpaired)",
            paired=f"{__name__}:is_paired",
            modalities=f"{__name__}:modalities",
            size="28 subjects × 8 slices by default",
        )
    ]


class PhantomSplit(TorchDataset[Sample]):
    """One split held in memory: a map-style dataset of :data:`~medganbench.core.dataset.Sample`.

    Attributes:
        subject_a: subject id of each item's A image (e.g. ``"train-003"``).
        subject_b: subject id of each item's B image (equal to ``subject_a`` when paired).
    """

    def __init__(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        mask_a: torch.Tensor,
        mask_b: torch.Tensor,
        subject_a: Sequence[str],
        subject_b: Sequence[str],
    ) -> None:
        """Wrap stacked tensors of shape (N, 1, H, W) and per-item subject ids.

        Raises:
            ValueError: the tensors or id lists disagree in length.
        """
        n = a.shape[0]
        if (
            any(t.shape[0] != n for t in (b, mask_a, mask_b))
            or n != len(subject_a)
            or n != len(subject_b)
        ):
            raise ValueError("all tensors and subject id lists of a split need the same length")
        self.a, self.b, self.mask_a, self.mask_b = a, b, mask_a, mask_b
        self.subject_a: tuple[str, ...] = tuple(subject_a)
        self.subject_b: tuple[str, ...] = tuple(subject_b)
        # When A and B of every item are one subject's slice, the subjects are the volumes of
        # per-patient evaluation: each item says its subject (index) and slice within it.
        same = self.subject_a == self.subject_b
        self.volume_ids: tuple[str, ...] = tuple(dict.fromkeys(self.subject_a)) if same else ()
        position = {sid: k for k, sid in enumerate(self.volume_ids)}
        seen: dict[str, int] = {}
        self._volume: list[int] = []
        self._slice: list[int] = []
        for sid in self.subject_a if same else ():
            self._volume.append(position[sid])
            self._slice.append(seen.get(sid, 0))
            seen[sid] = seen.get(sid, 0) + 1

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __getitem__(self, index: int) -> Sample:
        # Copies, so a consumer that edits a batch in place cannot corrupt the held split.
        item = {
            "a": self.a[index].clone(),
            "b": self.b[index].clone(),
            "mask_a": self.mask_a[index].clone(),
            "mask_b": self.mask_b[index].clone(),
        }
        if self._volume:
            item[VOLUME_KEY] = torch.tensor(self._volume[index], dtype=torch.int64)
            item[SLICE_KEY] = torch.tensor(self._slice[index], dtype=torch.int64)
        return item

    def to_payload(self) -> dict[str, Any]:
        """The split as plain tensors, strings and lists (what the cache file stores)."""
        return {
            "a": self.a,
            "b": self.b,
            "mask_a": self.mask_a,
            "mask_b": self.mask_b,
            "subject_a": list(self.subject_a),
            "subject_b": list(self.subject_b),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], image_size: int) -> PhantomSplit:
        """Rebuild a split from :meth:`to_payload` output, checking every field.

        Raises:
            ValueError: a field is missing or has the wrong type, dtype or shape.
        """
        split = cls(
            payload["a"],
            payload["b"],
            payload["mask_a"],
            payload["mask_b"],
            [str(s) for s in payload["subject_a"]],
            [str(s) for s in payload["subject_b"]],
        )
        for key, dtype in (
            ("a", torch.float32),
            ("b", torch.float32),
            ("mask_a", torch.bool),
            ("mask_b", torch.bool),
        ):
            t = getattr(split, key)
            if (
                not isinstance(t, torch.Tensor)
                or t.dtype != dtype
                or t.dim() != 4
                or tuple(t.shape[1:]) != (1, image_size, image_size)
            ):
                raise ValueError(f"cached field {key!r} has the wrong type or shape")
        return split


@dataclass(frozen=True)
class _Settings:
    """The typed arguments, read once from the resolved mapping."""

    subjects: dict[str, int]
    slices_per_subject: int
    seed: int
    weighting: str
    paired: bool

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> _Settings:
        return cls(
            subjects={name: int(args[f"{name}_subjects"]) for name in SPLITS},
            slices_per_subject=int(args["slices_per_subject"]),
            seed=int(args["seed"]),
            weighting=str(args["weighting"]),
            paired=bool(args["paired"]),
        )


class PhantomBrain(Dataset):
    """The ``phantom-brain`` dataset instance.

    Data are produced on first use (the first :meth:`split` call): loaded from the cache file if
    it is readable and valid, else generated and written to it.

    Attributes:
        info: the declared domains, pairing, splits and image size.
        args: the resolved arguments (every declared key, typed).
        cache_path: the cache file for these arguments and image size.
        generated: ``None`` until the data are first needed; then ``True`` if this instance
            generated them, ``False`` if it loaded them from the cache.
    """

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        """Resolve arguments and declare the dataset; generation is deferred.

        Args:
            args: dataset arguments; missing ones take their defaults.
            ctx: image size and cache directory.

        Raises:
            UsageError: an argument is unknown or invalid, or the image size is too small.
        """
        self.args: dict[str, Any] = resolve_args(PARAMS, args, NAME)
        if ctx.image_size < MIN_IMAGE_SIZE:
            raise UsageError(
                f"{NAME}: image size {ctx.image_size} is too small.",
                hint=f"Use an image size of at least {MIN_IMAGE_SIZE}.",
            )
        self._settings = _Settings.from_args(self.args)
        self._size = int(ctx.image_size)
        self.info = DatasetInfo(
            a=DomainInfo(
                name=SEQUENCES[self._settings.weighting].name,
                modality="MR",
                units="a.u.",
                window=(0.0, 1.0),
                channels=1,
            ),
            b=CT_DOMAIN,
            paired=self._settings.paired,
            splits=SPLITS,
            image_size=self._size,
        )
        self.domain = str(self.args["domain"])
        if self.domain != "both":
            # One domain as both A and B: samplers compare with B, and nothing is "paired".
            only = self.info.domain(self.domain)  # type: ignore[arg-type]
            self.info = DatasetInfo(
                a=only, b=only, paired=False, splits=SPLITS, image_size=self._size
            )
        self._fingerprint = _hash_settings(self.args, self._size)
        self.cache_path = Path(ctx.cache_dir) / f"{NAME}-{self._fingerprint}.pt"
        self.generated: bool | None = None
        self._splits: dict[str, PhantomSplit] | None = None

    def split(self, name: str) -> PhantomSplit:
        """Return split ``name`` (generating or loading all splits on first use).

        Raises:
            UsageError: ``name`` is not one of ``info.splits``.
        """
        if name not in self.info.splits:
            raise UsageError(
                f"{NAME} has no split {name!r}.",
                hint=f"Known splits: {', '.join(self.info.splits)}",
            )
        split = self._data()[name]
        if self.domain == "both":
            return split
        images, masks = (split.a, split.mask_a) if self.domain == "a" else (split.b, split.mask_b)
        ids = split.subject_a if self.domain == "a" else split.subject_b
        return PhantomSplit(images, images, masks, masks, ids, ids)

    def volume_ids(self, split: str) -> list[str]:
        """The subjects of ``split`` as volumes for per-patient evaluation (none if unpaired).

        A subject's slices are spread over the head (``slices_per_subject`` levels), not
        contiguous: its "volume" suits the medganbench convention (slices pooled), not a 3-D
        window.
        """
        return list(self.split(split).volume_ids)

    def fingerprint(self) -> str:
        """16 hex digits of sha256 over dataset name, version, arguments and image size."""
        return self._fingerprint

    def _data(self) -> dict[str, PhantomSplit]:
        if self._splits is None:
            self._splits = self._load_cache()
            self.generated = self._splits is None
            if self._splits is None:
                self._splits = self._generate()
                self._write_cache(self._splits)
        return self._splits

    def _generate(self) -> dict[str, PhantomSplit]:
        log.info("Generating %s (%s) at %d px.", NAME, self._fingerprint, self._size)
        return {name: self._generate_split(name) for name in self.info.splits}

    def _generate_split(self, name: str) -> PhantomSplit:
        """Render every subject of one split and arrange A and B by the pairing mode."""
        s = self._settings
        n = s.subjects[name]
        seed = s.seed % 2**64  # SeedSequence needs non-negative entropy
        ids = [f"{name}-{i:03d}" for i in range(n)]
        subjects = [
            render_subject(
                (seed, _SPLIT_STREAM[name], i), s.slices_per_subject, self._size, s.weighting
            )
            for i in range(n)
        ]
        if s.paired:
            a_side, b_side = list(zip(ids, subjects, strict=True)), None
        else:
            # Disjoint halves: A from the first, B from the second, so no item pairs a subject
            # with itself. With an odd count the middle subject is left out to keep A and B the
            # same length.
            half = n // 2
            a_side = list(zip(ids[:half], subjects[:half], strict=True))
            b_side = list(zip(ids[n - half :], subjects[n - half :], strict=True))
        a, mask_a, subject_a = _stack(a_side, "mr")
        if b_side is None:
            b, _, _ = _stack(a_side, "ct")
            mask_b, subject_b = mask_a, subject_a
        else:
            b, mask_b, subject_b = _stack(b_side, "ct")
        return PhantomSplit(a, b, mask_a, mask_b, subject_a, subject_b)

    def _load_cache(self) -> dict[str, PhantomSplit] | None:
        """The cached splits, or ``None`` if there is no usable cache file."""
        if not self.cache_path.is_file():
            return None
        try:
            payload = torch.load(self.cache_path, map_location="cpu", weights_only=True)
            if payload.get("format") != _CACHE_FORMAT or payload.get("fingerprint") != (
                self._fingerprint
            ):
                raise ValueError("cache written for other settings or by another version")
            return {
                name: PhantomSplit.from_payload(payload["splits"][name], self._size)
                for name in self.info.splits
            }
        # A damaged file can fail in many ways (unpickling, zip, key, type, shape errors);
        # whatever the cause, the cure is the same: regenerate.
        except Exception as exc:  # noqa: BLE001
            log.warning("Ignoring unreadable %s cache %s: %s", NAME, self.cache_path, exc)
            return None

    def _write_cache(self, splits: Mapping[str, PhantomSplit]) -> None:
        """Write the cache atomically; a failure to write only costs a regeneration later."""
        payload = {
            "format": _CACHE_FORMAT,
            "fingerprint": self._fingerprint,
            "splits": {name: split.to_payload() for name, split in splits.items()},
        }
        try:
            atomic_write(self.cache_path, lambda f: torch.save(payload, f))
        except OSError as exc:
            log.warning("Could not write %s cache %s: %s", NAME, self.cache_path, exc)


def _hash_settings(args: Mapping[str, Any], image_size: int) -> str:
    """16 hex digits of sha256 over name, version, arguments and image size."""
    key = {"dataset": NAME, "version": VERSION, "args": dict(args), "image_size": image_size}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _stack(
    side: Sequence[tuple[str, SubjectSlices]], modality: str
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Stack subjects' slices of one modality into (N, 1, H, W) images and masks plus ids.

    Args:
        side: (subject id, slices) pairs.
        modality: ``"mr"`` or ``"ct"`` (an attribute of :class:`SubjectSlices`).
    """
    images = np.concatenate([getattr(s, modality) for _, s in side])
    masks = np.concatenate([s.mask for _, s in side])
    ids = [sid for sid, s in side for _ in range(s.levels.size)]
    return (
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1),
        torch.from_numpy(np.ascontiguousarray(masks, dtype=np.bool_)).unsqueeze(1),
        ids,
    )


__all__ = [
    "CT_DOMAIN",
    "NAME",
    "PARAMS",
    "VERSION",
    "PhantomBrain",
    "PhantomSplit",
    "medganbench_datasets",
]
