"""How one optimiser step's images are shared by a run's devices, and whether a model can be.

The budget counts optimiser steps and global images (kimg), so a run on N devices is metered
like a run on one: a step is one step of the global batch, whatever the number of devices.
Which batch that is, the model declares (:attr:`~medganbench.core.model.Model.batch_scaling`).
"""

from __future__ import annotations

from dataclasses import dataclass

from medganbench.core.model import Model
from medganbench.errors import PluginError, UsageError

#: The values of :attr:`Model.batch_scaling`.
BATCH_SCALINGS = ("global", "per-device")


@dataclass(frozen=True)
class BatchPlan:
    """The images of one step on each device and in all (on the rows).

    Attributes:
        devices: the run's devices (its world size).
        per_device: images each device takes per step.
    """

    devices: int
    per_device: int

    @property
    def total(self) -> int:
        """The global batch: images of one optimiser step over all devices."""
        return self.devices * self.per_device


def plan_batches(model: Model, devices: int) -> BatchPlan:
    """The batch plan of ``model`` on ``devices`` devices, refusing what cannot be shared.

    Raises:
        UsageError: on several devices, a model that is not learned, that does not declare
            :meth:`~medganbench.core.model.Model.trained_modules`, or whose global batch is
            not a multiple of the number of devices.
        PluginError: the model declares an unknown :attr:`~Model.batch_scaling`.
    """
    name = type(model).__name__
    scaling = type(model).batch_scaling
    if scaling not in BATCH_SCALINGS:
        raise PluginError(
            f"{name}.batch_scaling is {scaling!r}, not one of {', '.join(BATCH_SCALINGS)}."
        )
    batch = model.batch_size
    if devices == 1:
        return BatchPlan(1, batch)
    if not type(model).learned:
        raise UsageError(
            f"{name} learns nothing by gradient steps, so it has nothing to train on "
            f"{devices} devices.",
            hint="Run it with --devices 1.",
        )
    try:
        model.trained_modules()
    except NotImplementedError as exc:
        raise UsageError(
            f"{exc}.",
            hint="Run it with --devices 1, or declare trained_modules() (docs/plugins.md).",
        ) from None
    if scaling == "per-device":
        return BatchPlan(devices, batch)
    if batch % devices:
        raise UsageError(
            f"{name}'s batch of {batch} images per step cannot be shared equally by {devices} "
            "devices (its batch_size is the global batch).",
            hint=f"Pass --model-arg batch_size=<a multiple of {devices}>, or use fewer devices.",
        )
    return BatchPlan(devices, batch // devices)
