"""The ``phantom-brain`` dataset: procedurally generated paired MR/CT brain slices.

The default dataset, embedded so the benchmark runs with nothing to download. Each subject is a
random head (see :mod:`medganbench_plugins.datasets.phantom_render`); its slices are rendered
as MR (domain A, T1- or T2-weighted, arbitrary units) and CT (domain B, Hounsfield units) of the
same anatomy, exactly aligned. Splits are made by subject, never by slice, and every subject's
random stream is keyed by ``(seed, split, subject index)``: changing the number of training
subjects leaves the validation and test subjects untouched.

The data are a pure function of the arguments and the image size, so they are generated once and
cached (:func:`medganbench.data.cached`) under a key holding the hash of both, which
:meth:`fingerprint` returns. Each slice's analytic tissue classes are served as label maps
(``label_a``/``label_b``; :data:`LABELS`), and each item says its subject (the subjects are the
volumes of per-patient evaluation) and slice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medganbench import progress
from medganbench.core.dataset import SPLITS, DatasetContext, DatasetInfo
from medganbench.core.params import Param, resolve_args
from medganbench.core.specs import DatasetSpec
from medganbench.data import DomainSlices, SliceSplit, dataset_hook
from medganbench.errors import UsageError
from medganbench_plugins.datasets.phantom_dataset import (
    CT_DOMAIN,
    PhantomDataset,
    mr_domain,
    sides,
    subject_entropy,
)
from medganbench_plugins.datasets.phantom_render import SubjectSlices, render_subject
from medganbench_plugins.datasets.phantom_tissues import SEQUENCES, TISSUES

log = logging.getLogger(__name__)

NAME = "phantom-brain"
#: Bump whenever the generated data could change (it is part of the cache key and fingerprint).
VERSION = "1"
#: Smallest supported image size: below this a head is a handful of pixels.
MIN_IMAGE_SIZE = 16
#: The label classes: the phantom's tissues, by label value.
LABELS: tuple[str, ...] = tuple(t.name for t in TISSUES)

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


def is_paired(args: Mapping[str, Any]) -> bool:
    """Paired unless ``paired=false`` or a single ``domain`` is delivered as A and B."""
    return bool(args["paired"]) and str(args["domain"]) == "both"


def modalities(args: Mapping[str, Any]) -> tuple[str, str]:
    """Domains A and B: MR and CT, or the one ``domain`` delivered as both."""
    return {"a": ("MR", "MR"), "b": ("CT", "CT")}.get(str(args["domain"]), ("MR", "CT"))


SPEC = DatasetSpec(
    name=NAME,
    summary="Procedural paired MR (T1/T2) → CT (HU) brain slices with tissue labels; no "
    "download, cached.",
    version=VERSION,
    factory="medganbench_plugins.datasets.phantom_brain:PhantomBrain",
    params=PARAMS,
    modality="MR (T1/T2) → CT",
    pairing="paired (paired=false or domain=a|b: unpaired)",
    paired=is_paired,
    modalities=modalities,
    size="24 subjects × 8 slices by default",
)
medganbench_datasets = dataset_hook(SPEC)


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


class PhantomBrain(PhantomDataset):
    """The ``phantom-brain`` dataset instance.

    Data are produced on first use (the first :meth:`split` call): loaded from the slice cache
    if it holds them, else generated and cached.

    Attributes:
        info: the declared domains, pairing, splits, image size and label classes.
        args: the resolved arguments (every declared key, typed).
        cache_path: the cache file of these arguments and image size.
        generated: ``None`` until the data are first needed; then ``True`` if this instance
            generated them, ``False`` if it loaded them from the cache.
    """

    name = NAME

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        """Resolve arguments and declare the dataset; generation is deferred.

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
        size = int(ctx.image_size)
        mr = mr_domain(self._settings.weighting)
        self.domain = str(self.args["domain"])
        a, b = {"a": (mr, mr), "b": (CT_DOMAIN, CT_DOMAIN)}.get(self.domain, (mr, CT_DOMAIN))
        paired = self._settings.paired and self.domain == "both"
        self.declare(DatasetInfo(a, b, paired, SPLITS, size, LABELS), VERSION, size, ctx.cache_dir)

    def volume_ids(self, split: str, domain: str = "b") -> list[str]:
        """The subjects of ``split``'s domain ``domain`` as volumes for per-patient evaluation.

        A subject's slices are spread over the head (``slices_per_subject`` levels), not
        contiguous: its "volume" suits the medganbench convention (slices pooled), not a 3-D
        window.
        """
        return self.split(split).volume_ids(domain)

    def _generate(self) -> dict[str, Any]:
        log.info("Generating %s (%s) at %d px.", NAME, self._fingerprint, self._size)
        total = sum(self._settings.subjects.values())
        label = f"generating {NAME} at {self._size} px"
        with progress.phase(label, total=total, unit="subjects") as shown:
            return {name: self._generate_split(name, shown) for name in self.info.splits}

    def _generate_split(self, name: str, shown: progress.Phase) -> dict[str, Any]:
        """Render every subject of one split: MR side and CT side with subject ids."""
        s = self._settings
        pairs = []
        for i in range(s.subjects[name]):
            entropy = subject_entropy(s.seed, name, i)
            pairs.append(
                (
                    f"{name}-{i:03d}",
                    render_subject(entropy, s.slices_per_subject, self._size, s.weighting),
                )
            )
            shown.advance()
        a_side, b_side = sides(pairs, s.paired)
        return {"a": _side(a_side, "mr"), "b": _side(b_side, "ct")}

    def _serve(self, payload: Mapping[str, Any]) -> SliceSplit:
        """A split from its cached sides, seen through ``domain`` (one side as both A and B)."""
        mr, ct = _slices(payload["a"]), _slices(payload["b"])
        if self.domain == "a":
            return SliceSplit(mr, mr, paired=False)
        if self.domain == "b":
            return SliceSplit(ct, ct, paired=False)
        return SliceSplit(mr, ct, paired=self.info.paired)


def _side(side: Sequence[tuple[str, SubjectSlices]], modality: str) -> dict[str, Any]:
    """One modality's slices of some subjects, stacked: images, masks, labels, subject ids."""
    images = np.concatenate([getattr(s, modality) for _, s in side])
    return {
        "images": torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1),
        "mask": torch.from_numpy(np.concatenate([s.mask for _, s in side])).unsqueeze(1),
        "labels": torch.from_numpy(np.concatenate([s.labels for _, s in side])).unsqueeze(1),
        "subjects": [sid for sid, s in side for _ in range(s.levels.size)],
    }


def _slices(side: Mapping[str, Any]) -> DomainSlices:
    """A side as served: each slice's subject (the volume) and its place among the subject's."""
    subjects = [str(s) for s in side["subjects"]]
    ids = tuple(dict.fromkeys(subjects))
    position = {sid: k for k, sid in enumerate(ids)}
    seen: dict[str, int] = {}
    order = []
    for sid in subjects:
        order.append(seen.get(sid, 0))
        seen[sid] = seen.get(sid, 0) + 1
    return DomainSlices(
        images=side["images"],
        mask=side["mask"],
        labels=side["labels"],
        volume=torch.as_tensor([position[s] for s in subjects], dtype=torch.int64),
        slice=torch.as_tensor(order, dtype=torch.int64),
        ids=ids,
    )


__all__ = [
    "CT_DOMAIN",
    "LABELS",
    "NAME",
    "PARAMS",
    "VERSION",
    "PhantomBrain",
    "medganbench_datasets",
]
