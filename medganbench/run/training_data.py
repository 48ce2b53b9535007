"""A dataset's training split as whole tensors, for metrics that compare with or train on what
the model was trained on (memorisation; the segmenter of the segmentation-utility metrics)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from medganbench.core.dataset import Dataset
from medganbench.errors import DataError


def domain_key(dataset: Dataset, domain: str) -> str:
    """``"a"`` or ``"b"``: the key of the dataset's domain named ``domain``.

    Raises:
        DataError: the dataset has no domain of that name.
    """
    info = dataset.info
    keys = [k for k in ("a", "b") if info.domain(k).name == domain]
    if not keys:
        raise DataError(
            f"Dataset has no domain named {domain!r} (it has {info.a.name!r}, {info.b.name!r})."
        )
    return keys[0]


def training_images(dataset: Dataset, domain: str) -> torch.Tensor:
    """Every training-split image of the domain named ``domain``, in its physical units.

    Raises:
        DataError: the dataset has no domain of that name.
    """
    key = domain_key(dataset, domain)
    loader = DataLoader(dataset.split("train"), batch_size=64)
    return torch.cat([batch[key] for batch in loader])


def training_labelled(dataset: Dataset, domain: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Every training-split image of the domain named ``domain`` and its label map.

    Raises:
        DataError: the dataset has no domain of that name, or its items carry no label maps.
    """
    key = domain_key(dataset, domain)
    images, labels = [], []
    for batch in DataLoader(dataset.split("train"), batch_size=64):
        if f"label_{key}" not in batch:
            raise DataError(f"The dataset's {domain} training items carry no label maps.")
        images.append(batch[key])
        labels.append(batch[f"label_{key}"])
    return torch.cat(images), torch.cat(labels)
