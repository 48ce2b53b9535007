"""The two declarations every dataset module makes: its ``root`` argument and its hook.

Both are the same for every dataset but for a few words, so they are written once here:
:func:`root_param` declares where the files are (a location argument, never in the run id) with
the lookup order in its help, and :func:`dataset_hook` makes the ``medganbench_datasets`` hook
of a module from its specs or :class:`~medganbench.data.descriptor.VolumeDescriptor` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import DatasetSpec
from medganbench.data.dataroot import env_var


class Declares(Protocol):
    """Anything with a ``spec()`` giving a :class:`DatasetSpec` (a volume descriptor)."""

    def spec(self) -> DatasetSpec: ...


def root_param(dataset: str, holds: str) -> Param:
    """The ``root`` argument of ``dataset``: the folder that ``holds`` the data.

    Empty by default, which means: ``--data-dir``, then ``MEDGANBENCH_DATA_<NAME>``, then the
    cache directory (:func:`~medganbench.data.dataroot.find_root`).
    """
    return Param(
        "root",
        "",
        f"{holds}; empty: --data-dir, {env_var(dataset)} or the cache directory",
        location=True,
    )


def dims_param() -> Param:
    """The ``dims`` argument of a paired volume dataset: ``2`` serves slices (default), ``3``
    serves volumes (:mod:`medganbench.data.volume_items`): crops of ``--image-size``³ to train
    3-D models on, whole volumes to evaluate them on."""
    return Param(
        "dims",
        2,
        "2: slices; 3: volumes (crops of image_size³ slices to train, whole volumes to evaluate)",
        choices=(2, 3),
        # Added in 0.2.0: runs of slices keep the ids (and the data their fingerprints) they had.
        omit_default=True,
    )


def dataset_hook(*declared: DatasetSpec | Declares) -> Callable[[], list[DatasetSpec]]:
    """The ``medganbench_datasets`` hook returning these datasets' specs.

    Use it as ``medganbench_datasets = dataset_hook(MY_DATASET)`` in a plugin module.
    """

    def medganbench_datasets() -> list[DatasetSpec]:
        return [d if isinstance(d, DatasetSpec) else d.spec() for d in declared]

    names = ", ".join(d.name if isinstance(d, DatasetSpec) else d.spec().name for d in declared)
    medganbench_datasets.__doc__ = f"Register {names}."
    return hookimpl(medganbench_datasets)


__all__ = ["Declares", "dataset_hook", "root_param"]
