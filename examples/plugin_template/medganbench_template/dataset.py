"""Template: a dataset plugin for medganbench. Copy this file to add a dataset.

A dataset plugin returns :class:`DatasetSpec` objects from ``medganbench_datasets``. The factory
builds a :class:`~medganbench.plugin.Dataset` at the image size the run asks for. This one
generates its images (a bright disk on a dark background, "MR" in arbitrary units, and the same
disk in "CT" Hounsfield units), so it needs no files; a dataset of files declares a ``root``
parameter with ``location=True`` and reads from there (see the built-in ``paired-folder``).

The contract (``medganbench/core/dataset.py``): each domain declares modality, units, a value
window and channels; items are dicts of ``a``/``b`` float tensors (C, H, W) in those units and
``mask_a``/``mask_b`` bool tensors (1, H, W); splits are made by subject; :meth:`fingerprint`
changes whenever the delivered data would. ``medganbench check dataset template-disks`` checks
all of it. Bump ``version`` whenever the data could change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset as TorchDataset

from medganbench.plugin import (
    SPLITS,
    Dataset,
    DatasetContext,
    DatasetInfo,
    DatasetSpec,
    DomainInfo,
    Param,
    Sample,
    UsageError,
    hookimpl,
)

VERSION = "1"
MR = DomainInfo("disk MR", "MR", "a.u.", (0.0, 1.0))
CT = DomainInfo("disk CT", "CT", "HU", (-1000.0, 1000.0))
#: Each split draws from its own stream, so the split sizes do not change each other's images.
SPLIT_STREAM = {"train": 0, "val": 1, "test": 2}


class DiskSplit(TorchDataset[Sample]):
    """The items of one split; item ``i`` is a function of (seed, split, i) and the size."""

    def __init__(self, split: str, count: int, seed: int, size: int) -> None:
        self.split, self.count, self.seed, self.size = split, count, seed, size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.count:
            raise IndexError(index)
        generator = torch.Generator().manual_seed(
            self.seed * 1_000_003 + SPLIT_STREAM[self.split] * 10_007 + index
        )
        centre = 0.5 + 0.1 * (torch.rand(2, generator=generator) - 0.5)
        radius = 0.25 + 0.1 * float(torch.rand(1, generator=generator))
        axis = (torch.arange(self.size, dtype=torch.float32) + 0.5) / self.size
        distance = ((axis[None, :] - centre[0]) ** 2 + (axis[:, None] - centre[1]) ** 2).sqrt()
        mask = (distance <= radius)[None]
        texture = 0.1 * torch.rand((1, self.size, self.size), generator=generator)
        mr = torch.where(mask, 0.7 + texture, torch.zeros_like(texture))
        ct = torch.where(mask, 40.0 + 200.0 * texture, torch.full_like(texture, -1000.0))
        return {"a": mr, "b": ct, "mask_a": mask, "mask_b": mask.clone()}


class DiskDataset(Dataset):
    """Paired generated disks in every split."""

    def __init__(self, args: Mapping[str, Any], ctx: DatasetContext) -> None:
        self.args = dict(args)
        self.info = DatasetInfo(MR, CT, paired=True, splits=SPLITS, image_size=ctx.image_size)
        counts = {
            "train": args["train_images"],
            "val": args["val_images"],
            "test": args["test_images"],
        }
        self.splits = {
            name: DiskSplit(name, int(counts[name]), int(args["seed"]), ctx.image_size)
            for name in SPLITS
        }

    def split(self, name: str) -> TorchDataset[Sample]:
        if name not in self.splits:
            raise UsageError(
                f"template-disks has no split {name!r}.", hint=f"Splits: {', '.join(SPLITS)}"
            )
        return self.splits[name]

    def fingerprint(self) -> str:
        # Everything the images depend on: the generator's version, arguments and the size.
        key = json.dumps([VERSION, self.args, self.info.image_size], sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


@hookimpl
def medganbench_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="template-disks",
            summary="Template: generated paired disks, MR and CT (examples/plugin_template).",
            version=VERSION,
            factory=f"{__name__}:DiskDataset",
            params=(
                Param("train_images", 16, "images in the training split", minimum=1),
                Param("val_images", 4, "images in the validation split", minimum=1),
                Param("test_images", 8, "images in the test split", minimum=1),
                Param("seed", 0, "seed of the generator; another seed gives other disks"),
            ),
            modality="MR → CT",
            pairing="paired",
            paired=True,
            size="28 generated images",
        )
    ]
