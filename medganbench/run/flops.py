"""Measuring a model's size: learned parameters and floating-point operations per training step.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` while a real training
step runs, so they include every forward and backward pass the model does in one step (a cycle
model's six generator passes, its discriminator updates, a gradient penalty's double backward).
The counter knows matrix multiplications and convolutions, which are nearly all of the work of
the models here; element-wise operations (normalisation, activations) are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch.utils.flop_counter import FlopCounterMode

from medganbench.core.dataset import DatasetInfo, DomainInfo
from medganbench.core.geometry import VolumeGeometry
from medganbench.core.model import Model, ModelContext, TrainBatch
from medganbench.core.specs import ModelSpec

T = TypeVar("T")

#: The dataset facts a model is probed with by :func:`probe_model`: one-channel MR→CT, paired.
PROBE_DATASET = DatasetInfo(
    a=DomainInfo("probe MR", "MR", "a.u.", (0.0, 1.0)),
    b=DomainInfo("probe CT", "CT", "HU", (-1024.0, 3000.0)),
    paired=True,
    splits=("train", "val", "test"),
    image_size=0,  # replaced per probe
)


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker: every FLOP is attributed to "Global".

    The tracker installs backward hooks on every module, and those hooks make
    ``torch.autograd.grad`` fail ("A leaf node was passed to _will_engine_execute_node") — which
    is exactly what a gradient penalty calls. Only the total is used here, so the per-module
    attribution is not needed.
    """

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn()`` once while counting the FLOPs of the torch operations it performs.

    Returns:
        ``fn``'s result and the total FLOPs (a multiply-add counts as two).
    """
    counter = FlopCounterMode(display=False)
    if hasattr(counter, "mod_tracker"):
        counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]  # duck-typed stand-in
    with counter:
        result = fn()
    return result, int(counter.get_total_flops())


@dataclass(frozen=True)
class ModelSize:
    """What :func:`probe_model` measured.

    Attributes:
        parameters: learned parameters.
        flops_per_step: FLOPs of one training step at ``image_size`` and the model's batch size.
        image_size: the probe's image size.
        batch_size: the model's batch size (from its arguments).
    """

    parameters: int
    flops_per_step: int
    image_size: int
    batch_size: int


def probe_geometry(image_size: int) -> VolumeGeometry:
    """The volumes a 3-D model is probed on: ``image_size``³ voxels of 1 mm."""
    return VolumeGeometry((image_size,) * 3, (1.0, 1.0, 1.0), "SPL", "probe")


def probe_model(
    spec: ModelSpec, image_size: int, args: dict[str, Any] | None = None, seed: int = 0
) -> ModelSize:
    """Build ``spec``'s model on CPU and measure it on one training step of random images.

    Args:
        spec: the model's spec.
        image_size: side length of the probe images (of the probe volumes' cube, for a 3-D
            model: :func:`probe_geometry`).
        args: raw model arguments (defaults for the rest).
        seed: seeds the probe's weights and images.

    Returns:
        Parameter count and FLOPs per training step.

    Raises:
        UsageError / UnknownNameError: ``args`` do not validate against the spec.
    """
    cube = getattr(spec.load(), "spatial_dims", 2) == 3
    info = DatasetInfo(
        a=PROBE_DATASET.a,
        b=PROBE_DATASET.b,
        paired=True,
        splits=PROBE_DATASET.splits,
        image_size=image_size,
        volume=probe_geometry(image_size) if cube else None,
    )
    torch.manual_seed(seed)
    ctx = ModelContext(image_size, info, torch.device("cpu"), seed)
    model: Model = spec.build(args or {}, ctx)
    n = model.batch_size
    generator = torch.Generator().manual_seed(seed)
    shape = (n, 1, *(image_size,) * info.spatial_dims)
    batch = TrainBatch(
        a=torch.rand(shape, generator=generator) * 2 - 1,
        b=torch.rand(shape, generator=generator) * 2 - 1,
        mask_a=torch.ones(shape, dtype=torch.bool),
        mask_b=torch.ones(shape, dtype=torch.bool),
        paired=True,
    )
    model.train_mode()
    model.set_progress(0.0)
    _, flops = count_flops(lambda: model.train_step(batch))
    return ModelSize(model.parameter_count(), flops, image_size, n)
